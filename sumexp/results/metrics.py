"""What a finished run measured, gathered into metrics.json, and the one-line summary of it."""

from __future__ import annotations

from sumexp.results import resources
from sumexp.run import record as run_record
from sumexp.score.rouge import BEST_METRIC, METRICS, PER_EXAMPLE


def collect_metrics(run, training: dict) -> dict:
    """Everything the run measured (`run`: a task.RunParts); every ROUGE figure on the 0-100 scale."""
    cfg, model = run.cfg, run.model
    total, trainable = resources.parameter_counts(model)
    peak_mb, peak_kind = resources.peak_memory_mb()
    scores = percent_scores(run.best.scores)
    eval_seconds = training["eval_seconds"]
    return {
        "status": run_record.COMPLETED,
        "model": cfg.model.name,
        "checkpoint": cfg.model.checkpoint or f"scratch:{cfg.model.scratch.model_type}",
        "family": "seq2seq" if run.model_config.is_encoder_decoder else "causal",
        "backend_requested": cfg.backend.name,
        "backend_effective": run.built.effective_backend,
        "backend_note": run.built.note,
        "base_model": run.base.description,  # what training started from: a checkpoint, random or pretrained here
        "base_model_cache": run.base.cache,  # pretrained here: hit (an earlier run made it) | miss; else null
        "dev_rouge1": scores["rouge1"]["fmeasure"],
        "dev_rouge2": scores["rouge2"]["fmeasure"],
        "dev_rougeL": scores["rougeL"]["fmeasure"],
        "dev_rouge_mean": scores[BEST_METRIC],
        "dev_rouge": scores,  # precision, recall and F1 of each, with the tokenizer and aggregation used
        **dev_rouge_interval(run.best.scores),
        "dev_step": run.best.step,  # the evaluation these dev numbers and predictions come from
        **training,
        "run_seconds": run.seconds,  # the whole run, from loading the data to the last prediction
        "eval_share": eval_seconds / run.seconds if run.seconds else None,
        "encode_seconds": run.encoded.seconds,
        "encode_cache": run.encoded.cache,  # hit: the encoded splits came from cache_dir
        "mfu": resources.model_flops_utilization(total, training.get("train_tokens_per_second")),
        "peak_memory_mb": peak_mb,  # the whole run's peak, libraries and scorer included (see docs/PERFORMANCE.md)
        "peak_memory_kind": peak_kind,
        **_backend_memory(run, training),
        "tokenizer": {"class": type(run.tokenizer).__name__, **run.fidelity.as_dict()},
        "params_total": total,
        "params_trainable": trainable,
        "params_trainable_ratio": trainable / total if total else None,  # 1.0 for full fine-tuning
        "device": resources.device_name(),
        "seed": cfg.seed,
        "data": _data_summary(run.splits),
        "versions": resources.versions(),
        "run_dir": str(run.run_dir),
    }


def dev_rouge_interval(scores: dict) -> dict:
    """The 95% percentile bootstrap interval of dev_rouge_mean over the dev examples, and how it was drawn."""
    from sumexp.score import bootstrap

    per_example = scores[PER_EXAMPLE]
    means = [100 * sum(f1) / len(METRICS) for f1 in zip(*(per_example[m] for m in METRICS))]
    return {
        "dev_rouge_mean_ci95": list(bootstrap.percentile_interval(means)) if means else None,
        "dev_rouge_bootstrap": bootstrap.settings(),
    }


def _backend_memory(run, training: dict) -> dict:
    """The memory of the backend itself (results/memory.py), apart from the libraries' and the scorer's."""
    from sumexp.results import memory

    untrained = (
        {}
        if "memory_model_state_bytes" in training
        else {  # train=false: the weights alone
            **memory.model_state_bytes(run.model, optimizer=None),
            "memory_train_peak_mb": None,
            "memory_train_rss_added_mb": None,
        }
    )
    return {
        **untrained,
        "memory_generation_peak_mb": memory.GENERATION.mb,  # dev and test generation; GPU only
        "cpu_count": resources.cpu_count(),
    }


def untrained_metrics(cfg, evaluator) -> dict:
    """train=false: the model as loaded, scored once."""
    only = next(iter(evaluator.by_step.values()))
    return {
        "dev_rouge_mean_untrained": only.scores[BEST_METRIC],
        "train_steps": 0,
        "eval_seconds": evaluator.seconds,
        "precision_requested": cfg.optim.precision,
        "precision_effective": "fp32",
        "precision_note": "train=false: generated with the weights as loaded",
    }


def percent_scores(scores: dict) -> dict:
    """The scorer's result with precision, recall and F1 moved from 0-1 to 0-100, like rouge_mean."""
    scaled = dict(scores)
    for metric in METRICS:
        scaled[metric] = {field: 100 * value for field, value in scores[metric].items()}
    return scaled


def mean_train_loss(log_history: list[dict]) -> float | None:
    """The mean training loss over every optimizer step, from the logged windows (each the mean since the
    previous log). The Trainer's own figure counts only the steps of the last session, so it comes out too
    low after a resume; the windows of the first session are in the restored log history."""
    total, last_step = 0.0, 0
    for entry in sorted((e for e in log_history if "loss" in e), key=lambda e: e["step"]):
        total += entry["loss"] * (entry["step"] - last_step)
        last_step = entry["step"]
    return total / last_step if last_step else None


def last_logged(log_history: list[dict], key: str):
    return next((entry[key] for entry in reversed(log_history) if key in entry), None)


def logged_at(log_history: list[dict], step: int, key: str):
    """The value of `key` logged at `step`, if it was."""
    return next((entry[key] for entry in log_history if entry.get("step") == step and key in entry), None)


def untrained_score(log_history: list[dict]) -> float | None:
    """Dev ROUGE mean of the evaluation at step 0 (optim.eval_on_start), if there was one."""
    for entry in log_history:
        if entry.get("step") == 0 and f"eval_{BEST_METRIC}" in entry:
            return entry[f"eval_{BEST_METRIC}"]
    return None


def _data_summary(splits) -> dict:
    parts = {"train": splits.train, "dev": splits.dev, "test": splits.test}
    summary = {
        name: {"rows": len(s.ids), "dropped_rows": s.dropped, "source": s.source}
        for name, s in parts.items()
        if s is not None
    }
    return {**summary, "notes": splits.notes}


def summary_line(metrics: dict) -> str:
    return (
        f"sumexp: {metrics['model']} / {_backend_label(metrics)} | dev ROUGE-1/2/L "
        f"{metrics['dev_rouge1']:.2f}/{metrics['dev_rouge2']:.2f}/{metrics['dev_rougeL']:.2f} "
        f"mean {metrics['dev_rouge_mean']:.2f} (untrained {_fmt(metrics.get('dev_rouge_mean_untrained'))}) | "
        f"{_fmt(metrics.get('train_tokens_per_second'), '.0f')} tokens/s | peak {metrics['peak_memory_mb']:.0f} MB | "
        f"{metrics['run_dir']}"
    )


def _backend_label(metrics: dict) -> str:
    """The effective backend, with the requested one before it when they differ (a fallback)."""
    requested, effective = metrics["backend_requested"], metrics["backend_effective"]
    return effective if requested == effective else f"{requested} -> {effective}"


def _fmt(value, spec: str = ".2f") -> str:
    return "n/a" if value is None else format(value, spec)
