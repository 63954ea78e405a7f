"""optim.lr=null trains at model.learning_rate x backend.lr_scale: adapters at 10x, full at 1x."""

from __future__ import annotations

import pytest

from sumexp.errors import UserError


def test_adapters_default_to_ten_times_the_models_rate_and_full_to_its_own(compose_config):
    for backend, scale in (("full", 1), ("lora", 10), ("qlora", 10), ("unsloth", 10)):
        assert compose_config([f"backend={backend}"]).backend.lr_scale == scale, backend


def test_a_scale_that_is_not_positive_is_a_user_error():
    from sumexp.backends.lora import LoRA

    with pytest.raises(UserError, match=r"backend.lr_scale=0: must be above 0"):
        LoRA("lora", lr_scale=0)


@pytest.mark.slow
def test_the_run_trains_at_the_scaled_rate_unless_optim_lr_is_given(compose_config, tmp_path):
    from sumexp.task import run_experiment

    quick = [
        "model=tiny_t5",
        "backend=lora",
        "optim.max_steps=1",
        "optim.evaluate=false",
        "data.max_train_samples=16",
        "data.max_eval_samples=2",
        "generation.num_beams=1",
        "generation.max_new_tokens=4",
        "score.tokenizer=whitespace",
    ]
    scaled = run_experiment(compose_config(quick), tmp_path / "scaled")
    assert scaled["learning_rate"] == pytest.approx(10 * 1e-3)  # tiny_t5's model.learning_rate is 1e-3
    given = run_experiment(compose_config([*quick, "optim.lr=2e-4"]), tmp_path / "given")
    assert given["learning_rate"] == pytest.approx(2e-4)
