"""A long run survives: a diverging loss stops early, running out of memory is one clear line (or a smaller
batch, when asked), and a stop saves where no evaluation is due. Kills and stops at every phase, and the
resume to the same result, are in test_faults.py."""

from __future__ import annotations

import json

import pytest

from sumexp.training.checkpoints import last_complete_checkpoint
from tests.support.cli import expect_one_line_error, sumexp_cli


def metrics_of(run_dir) -> dict:
    return json.loads((run_dir / "metrics.json").read_text())


@pytest.mark.slow
def test_a_diverging_loss_stops_within_a_log_interval_with_the_cause(tmp_path):
    run = sumexp_cli(
        f"hydra.run.dir={tmp_path}",
        "optim.lr=1e6",
        "optim.max_steps=200",
        "optim.logging_steps=5",
        "optim.eval_on_start=false",
        "data.max_eval_samples=8",
    )
    expect_one_line_error(run, "became nan", "by step 5", "optim.lr=1e+06", "lower optim.lr")
    stopped = metrics_of(tmp_path)
    assert stopped["status"] == "failed" and stopped["stage"] == "train" and "optim.lr" in stopped["error"]


def test_the_newest_incomplete_checkpoint_is_skipped(tmp_path):
    for step, complete in ((10, True), (20, True), (30, False)):
        folder = tmp_path / f"checkpoint-{step}"
        folder.mkdir()
        if complete:
            (folder / "trainer_state.json").write_text("{}")
    assert last_complete_checkpoint(tmp_path) == tmp_path / "checkpoint-20"
    assert last_complete_checkpoint(tmp_path / "missing") is None


@pytest.mark.parametrize("signal_name", [None, "SIGTERM"])
def test_spaced_out_checkpoints_still_save_where_a_signal_stops(compose_config, tmp_path, signal_name):
    from transformers import TrainerControl, TrainerState

    from sumexp.training.guards import InterruptOnSignal
    from sumexp.training.trainer import guard_callbacks, training_arguments

    cfg = compose_config(["optim.evaluate=false"])  # a checkpoint at most every 10 minutes
    args = training_arguments(cfg, str(tmp_path), "fp32", 1e-3)
    callbacks = guard_callbacks(cfg, args)
    state, control = TrainerState(global_step=19, max_steps=100, epoch=1.0), TrainerControl()
    for callback in callbacks:
        callback.on_train_begin(args, state, control)
    try:
        next(cb for cb in callbacks if isinstance(cb, InterruptOnSignal)).signal_name = signal_name
        control.should_save = True  # the end of an epoch a few seconds into training
        for callback in callbacks:
            callback.on_step_end(args, state, control)
    finally:
        for callback in callbacks:
            callback.on_train_end(args, state, control)
    assert control.should_save is (signal_name is not None)
    assert control.should_log is control.should_save  # the loss is logged where the checkpoint is


def out_of_memory_above(limit: int):
    """A training_step that fails like CUDA does when the batch holds more than `limit` rows."""
    import torch

    from sumexp.training.trainer import SummarizationTrainer

    original = SummarizationTrainer.training_step

    def training_step(self, model, inputs, num_items_in_batch=None):
        if inputs["input_ids"].shape[0] > limit:
            raise torch.cuda.OutOfMemoryError("CUDA out of memory. Tried to allocate 2.00 GiB")
        return original(self, model, inputs, num_items_in_batch)

    return training_step


QUICK = [
    "data.max_train_samples=64",
    "data.max_eval_samples=8",
    "optim.max_steps=4",
    "generation.num_beams=1",
    "generation.max_new_tokens=8",
    "score.tokenizer=whitespace",
    "optim.eval_on_start=false",
]


@pytest.mark.slow
def test_out_of_memory_is_one_clear_error_with_the_remedies(compose_config, tmp_path, monkeypatch):
    from sumexp.errors import OutOfMemory
    from sumexp.task import run_experiment
    from sumexp.training.trainer import SummarizationTrainer

    monkeypatch.setattr(SummarizationTrainer, "training_step", out_of_memory_above(4))
    with pytest.raises(OutOfMemory) as caught:
        run_experiment(compose_config([*QUICK, "optim.batch_size=16"]), run_dir=tmp_path)
    message = str(caught.value)
    for remedy in (
        "optim.batch_size=16",
        "optim.grad_accum",
        "optim.gradient_checkpointing=true",
        "backend=qlora",
        "optim.auto_find_batch_size=true",
    ):
        assert remedy in message


@pytest.mark.slow
def test_auto_find_batch_size_halves_until_it_fits_and_records_it(compose_config, tmp_path, monkeypatch):
    from sumexp.task import run_experiment
    from sumexp.training.trainer import SummarizationTrainer

    monkeypatch.setattr(SummarizationTrainer, "training_step", out_of_memory_above(4))
    metrics = run_experiment(
        compose_config([*QUICK, "optim.batch_size=16", "optim.auto_find_batch_size=true"]), run_dir=tmp_path
    )
    assert metrics["status"] == "completed" and metrics["train_batch_size"] == 4 and metrics["train_steps"] == 4


@pytest.mark.parametrize(
    "strategy, step, epoch",
    [
        ("steps", 10, 0.5),  # an evaluation step: saved before its evaluation, which a resume owes it
        ("steps", 11, 0.55),
        ("epoch", 20, 1.0),  # the last step of an epoch, evaluated once an epoch
        ("epoch", 11, 0.55),
    ],
)
def test_a_stop_saves_at_any_step_and_never_evaluates(compose_config, tmp_path, strategy, step, epoch):
    from transformers import TrainerControl, TrainerState
    from transformers.trainer_callback import DefaultFlowCallback

    from sumexp.training.guards import InterruptOnSignal
    from sumexp.training.trainer import training_arguments

    eval_steps = ["optim.eval_steps=10"] if strategy == "steps" else []
    args = training_arguments(compose_config(eval_steps), str(tmp_path), "fp32", 1e-3)
    state = TrainerState(global_step=step, max_steps=100, epoch=epoch, eval_steps=10, save_steps=10, logging_steps=10)
    control, stop = TrainerControl(), InterruptOnSignal()
    stop.signal_name = "SIGTERM"
    for callback in (DefaultFlowCallback(), stop):  # the Trainer's order: its flow first, the guards after
        control = callback.on_step_end(args, state, control) or control
    assert control.should_training_stop and not control.should_evaluate
    assert control.should_save
    for callback in (DefaultFlowCallback(), stop):  # the epoch end that follows the break adds nothing
        control = callback.on_epoch_end(args, state, control) or control
    assert not control.should_evaluate and not control.should_save


@pytest.mark.parametrize(
    "strategy, step, epoch, evaluated, owed",
    [
        ("steps", 10, 0.5, False, True),  # saved by a stop before the step's evaluation
        ("steps", 10, 0.5, True, False),  # saved after it, as at every evaluation step
        ("steps", 11, 0.55, False, False),  # no evaluation due there
        ("steps", 95, 4.75, False, True),  # the last step (max_steps 95) is evaluated too
        ("epoch", 20, 1.0, False, True),
        ("epoch", 11, 0.55, False, False),
        ("off", 10, 0.5, False, False),  # optim.evaluate=false: nothing is ever owed
    ],
)
def test_a_resume_owes_an_evaluation_only_to_a_checkpoint_a_stop_saved_before_it(
    compose_config, tmp_path, strategy, step, epoch, evaluated, owed
):
    from sumexp.training.checkpoints import owes_evaluation
    from sumexp.training.trainer import training_arguments

    overrides = {"steps": ["optim.eval_steps=10"], "epoch": [], "off": ["optim.evaluate=false"]}[strategy]
    args = training_arguments(compose_config(overrides), str(tmp_path), "fp32", 1e-3)
    logged = {"step": step, "eval_rouge_mean": 1.0} if evaluated else {"step": step, "loss": 1.0}
    state = {"global_step": step, "epoch": epoch, "eval_steps": 10, "max_steps": 95, "log_history": [logged]}
    (tmp_path / "trainer_state.json").write_text(json.dumps(state))
    assert owes_evaluation(tmp_path, args) is owed


def test_an_abandoned_evaluation_stops_training_without_a_checkpoint():
    from transformers import TrainerControl

    from sumexp.training.guards import InterruptOnSignal

    control, stop = TrainerControl(should_save=True), InterruptOnSignal()
    stop.signal_name = "SIGTERM"
    stop.evaluation_stopped(control)
    assert control.should_training_stop and not control.should_save
    stop.on_step_end(None, None, control)  # a step that still ends afterwards saves nothing either
    assert not control.should_save


def test_a_resumed_run_restores_early_stoppings_count(compose_config, tmp_path):
    """The Trainer restores stateful callbacks (EarlyStoppingCallback's patience counter) only when asked."""
    from transformers import EarlyStoppingCallback, TrainerState

    from sumexp.training.trainer import training_arguments

    args = training_arguments(compose_config([]), str(tmp_path), "fp32", 1e-3)
    assert args.restore_callback_states_from_checkpoint
    stopping = EarlyStoppingCallback(early_stopping_patience=3)
    stopping.early_stopping_patience_counter = 2
    state = TrainerState(stateful_callbacks=[stopping])
    saved = state.stateful_callbacks["EarlyStoppingCallback"]  # what a checkpoint's trainer_state.json keeps
    assert saved["attributes"]["early_stopping_patience_counter"] == 2
