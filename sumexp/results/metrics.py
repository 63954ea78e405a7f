"""What a finished run measured, gathered into metrics.json, and the one-line summary of it."""
from __future__ import annotations

from pathlib import Path

from sumexp.results import resources
from sumexp.training.trainer import BEST_METRIC, StepTimer


def collect_metrics(cfg, run_dir: Path, splits, built, model_config, fit, final_eval: dict) -> dict:
    trainer = fit.trainer
    scores = fit.evaluator.scores
    total, trainable = resources.parameter_counts(trainer.model)
    peak_mb, peak_kind = resources.peak_memory_mb()
    step_seconds = next(cb.seconds for cb in trainer.callback_handler.callbacks if isinstance(cb, StepTimer))
    # Fractional epochs x rows counts the short last batch of each epoch right; steps x batch size would not.
    samples = trainer.state.epoch * len(trainer.train_dataset)
    return {
        "status": "completed",
        "model": cfg.model.name,
        "checkpoint": cfg.model.checkpoint or f"scratch:{cfg.model.scratch.model_type}",
        "family": "seq2seq" if model_config.is_encoder_decoder else "causal",
        "backend_requested": cfg.backend.name,
        "backend_effective": built.effective_backend,
        "backend_note": built.note,
        "precision_requested": cfg.optim.precision,
        "precision_effective": fit.precision,
        "precision_note": fit.precision_note,
        "dev_rouge1": scores["rouge1"]["fmeasure"],
        "dev_rouge2": scores["rouge2"]["fmeasure"],
        "dev_rougeL": scores["rougeL"]["fmeasure"],
        "dev_rouge_mean": scores[BEST_METRIC],
        "dev_rouge_mean_untrained": _untrained_score(trainer.state.log_history),
        "dev_rouge": scores,  # precision, recall and F1 of each, with the tokenizer and aggregation used
        "eval_loss": final_eval.get("eval_loss"),
        "train_loss": fit.train_result.training_loss,
        "train_runtime_s": fit.train_result.metrics.get("train_runtime"),  # wall time, dev evaluations included
        "train_step_time_s": step_seconds,
        "train_samples_per_second": samples / step_seconds if step_seconds else None,  # optimizer steps only
        "train_steps": trainer.state.global_step,
        "epochs": trainer.state.epoch,
        "best_checkpoint_step": _best_step(trainer.state.best_model_checkpoint),
        "peak_memory_mb": peak_mb,
        "peak_memory_kind": peak_kind,
        "params_total": total,
        "params_trainable": trainable,
        "device": resources.device_name(),
        "seed": cfg.seed,
        "data": _data_summary(splits),
        "versions": resources.versions(),
        "run_dir": str(run_dir),
    }


def _untrained_score(log_history: list[dict]) -> float | None:
    """Dev ROUGE mean of the evaluation at step 0 (optim.eval_on_start), if there was one."""
    for entry in log_history:
        if entry.get("step") == 0 and f"eval_{BEST_METRIC}" in entry:
            return entry[f"eval_{BEST_METRIC}"]
    return None


def _best_step(checkpoint: str | None) -> int | None:
    return int(checkpoint.rsplit("-", 1)[1]) if checkpoint else None


def _data_summary(splits) -> dict:
    parts = {"train": splits.train, "dev": splits.dev, "test": splits.test}
    summary = {name: {"rows": len(s.ids), "dropped_rows": s.dropped, "source": s.source}
               for name, s in parts.items() if s is not None}
    return {**summary, "notes": splits.notes}


def summary_line(metrics: dict) -> str:
    return (
        f"sumexp: {metrics['model']} / {metrics['backend_effective']} | dev ROUGE-1/2/L "
        f"{100 * metrics['dev_rouge1']:.2f}/{100 * metrics['dev_rouge2']:.2f}/{100 * metrics['dev_rougeL']:.2f} "
        f"mean {metrics['dev_rouge_mean']:.2f} (untrained {_fmt(metrics.get('dev_rouge_mean_untrained'))}) | "
        f"{metrics['train_samples_per_second']:.1f} samples/s | peak {metrics['peak_memory_mb']:.0f} MB | "
        f"{metrics['run_dir']}"
    )


def _fmt(value) -> str:
    return "n/a" if value is None else f"{value:.2f}"
