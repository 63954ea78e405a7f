"""Training arguments: the schedule follows the direction of dev ROUGE, and bad values are caught early."""

from __future__ import annotations

import pytest

from sumexp.checks import check_config
from sumexp.errors import UserError


def plateau_trainer(compose_config, tiny_tokenizers, tmp_path, *overrides):
    from sumexp.models.loading import load_model, load_model_config
    from sumexp.training.trainer import build_trainer, training_arguments

    cfg = compose_config(["model=tiny_bart", "optim.scheduler=reduce_lr_on_plateau", *overrides])
    tokenizer = tiny_tokenizers["tiny_bart"]
    model = load_model(cfg.model, tokenizer, load_model_config(cfg.model, tokenizer))
    args = training_arguments(cfg, str(tmp_path), "fp32", learning_rate=1e-3)
    trainer = build_trainer(cfg, model, tokenizer, [], [], evaluator=None, args=args)
    trainer.create_optimizer_and_scheduler(num_training_steps=10)
    return trainer


def test_plateau_schedule_keeps_the_rate_while_rouge_rises(compose_config, tiny_tokenizers, tmp_path):
    """Stepped on dev ROUGE mean: a rising score must not cut the rate, a flat one must."""
    trainer = plateau_trainer(compose_config, tiny_tokenizers, tmp_path, "+optim.scheduler_kwargs.patience=1")
    scheduler, optimizer = trainer.lr_scheduler, trainer.optimizer
    assert scheduler.mode == "max"
    for rouge in (10.0, 20.0, 30.0, 40.0):
        scheduler.step(rouge)
    assert optimizer.param_groups[0]["lr"] == pytest.approx(1e-3)
    for rouge in (40.0, 40.0, 40.0):
        scheduler.step(rouge)
    assert optimizer.param_groups[0]["lr"] < 1e-3


def test_scheduler_kwargs_reach_the_scheduler(compose_config, tiny_tokenizers, tmp_path):
    trainer = plateau_trainer(compose_config, tiny_tokenizers, tmp_path, "+optim.scheduler_kwargs.factor=0.5")
    assert trainer.lr_scheduler.factor == 0.5


def test_a_plateau_mode_against_the_metric_is_a_user_error(compose_config):
    cfg = compose_config(["optim.scheduler=reduce_lr_on_plateau", "+optim.scheduler_kwargs.mode=min"])
    with pytest.raises(UserError, match="optim.scheduler_kwargs.mode=min.*higher is better"):
        check_config(cfg)
