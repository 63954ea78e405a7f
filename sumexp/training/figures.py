"""What training measured, read from the Trainer once it is done: losses, speed over optimizer steps,
the evaluations, the backend's memory and the precision that ran; gathered into metrics.json by
results/metrics.py."""

from __future__ import annotations

from sumexp.results.metrics import last_logged, logged_at, mean_train_loss, untrained_score
from sumexp.training.meters import StepTimer, TrainingMeasurements


def training_metrics(cfg, fit) -> dict:
    """What training measured: losses, speed over optimizer steps only, and the evaluations."""
    trainer = fit.trainer
    timer = next(cb for cb in trainer.callback_handler.callbacks if isinstance(cb, StepTimer))
    step_seconds = timer.seconds
    measurements = next(cb for cb in trainer.callback_handler.callbacks if isinstance(cb, TrainingMeasurements))
    # Fractional epochs x rows counts the short last batch of each epoch right; steps x batch size would not.
    samples = trainer.state.epoch * len(trainer.train_dataset)
    history = trainer.state.log_history
    best_step = trainer.state.best_global_step
    return {
        "dev_rouge_mean_untrained": untrained_score(history),
        "eval_loss": logged_at(history, best_step or trainer.state.global_step, "eval_loss"),
        "train_loss": mean_train_loss(history),  # every step, a resumed run's too
        "train_loss_last": last_logged(history, "loss"),  # the last logged window
        "train_runtime_s": fit.train_result.metrics.get("train_runtime"),  # wall time, dev evaluations included
        "train_step_time_s": step_seconds,
        **timer.spread(),  # train_step_seconds_median/_p10/_p90 and train_steps_timed: this process's steps
        "train_samples_per_second": samples / step_seconds if step_seconds else None,  # optimizer steps only
        "train_tokens_per_second": trainer.tokens_processed / step_seconds if step_seconds else None,  # non-padding
        "train_tokens": trainer.tokens_processed,
        "train_tokens_processed": trainer.tokens_processed,  # non-padding tokens through the model
        "train_tokens_trained": trainer.tokens_trained,  # label tokens in the loss: the summaries
        "train_trained_tokens_per_second": trainer.tokens_trained / step_seconds if step_seconds else None,
        **measurements.as_metrics(trainer.model, trainer.optimizer),  # memory_* and train_load_average
        "eval_seconds": trainer.eval_seconds,  # dev loss, generation and ROUGE at every evaluation
        "train_steps": trainer.state.global_step,
        "train_batch_size": trainer.train_batch_size,  # per device; smaller than asked after auto_find_batch_size
        "epochs": trainer.state.epoch,
        "best_checkpoint_step": best_step,
        "learning_rate": trainer.args.learning_rate,  # optim.lr, or model.learning_rate x backend.lr_scale
        "precision_requested": cfg.optim.precision,
        "precision_effective": fit.precision,
        "precision_note": fit.precision_note,
    }
