"""The private transformers internals sumexp uses, each in one place in sumexp/training/trainer.py:
`Trainer._get_train_sampler` (overridden, for length-grouped batches in an order a resume repeats),
`Trainer._train_batch_size` (the batch size auto_find_batch_size settled on), and `Trainer._evaluate`
with `Trainer._determine_best_metric` (the evaluation a resume owes a checkpoint saved before it counts
for the best model). No public API gives any of them; these tests fail on the transformers release that
renames or reshapes them."""

from __future__ import annotations

import inspect

import pytest
from transformers import Trainer


def test_the_train_sampler_hook_still_exists_with_its_dataset_argument():
    hook = getattr(Trainer, "_get_train_sampler", None)
    assert callable(hook), "Trainer._get_train_sampler is gone: see SummarizationTrainer._get_train_sampler"
    assert "train_dataset" in inspect.signature(hook).parameters


def test_the_evaluation_hook_and_the_best_metric_update_still_take_their_arguments():
    for name, arguments in (
        ("_evaluate", {"trial", "ignore_keys_for_eval", "skip_scheduler"}),
        ("_determine_best_metric", {"metrics", "trial"}),
    ):
        hook = getattr(Trainer, name, None)
        assert callable(hook) and arguments <= set(inspect.signature(hook).parameters), (
            f"Trainer.{name} changed: see SummarizationTrainer._evaluate"
        )


@pytest.mark.slow
def test_the_trainer_still_keeps_its_train_batch_size(compose_config, tmp_path):
    from sumexp.task import run_experiment

    metrics = run_experiment(
        compose_config(
            [
                "data.max_train_samples=8",
                "data.max_eval_samples=2",
                "optim.max_steps=1",
                "optim.batch_size=4",
                "optim.eval_on_start=false",
                "generation.num_beams=1",
                "generation.max_new_tokens=4",
                "score.tokenizer=whitespace",
            ]
        ),
        tmp_path,
    )
    assert metrics["train_batch_size"] == 4  # read through SummarizationTrainer.train_batch_size
