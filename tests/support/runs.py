"""Run folders for the tests: fabricated ones for the report's tests (metrics.json, .hydra/config.yaml,
dev_predictions.csv), finished ones made in-process, CLI runs started and watched, and what they hold."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
import yaml
from omegaconf import OmegaConf

from tests.support.cli import REPO_ROOT_ENV
from tests.support.limits import hang_limit

MB = 2**20  # sumexp.results.memory's MB, the report's MiB


def completed(
    model, backend, effective=None, state_mb=1000.0, tokens=100.0, rouge=(30.0, 10.0, 28.0), rss_mb=300.0, **extra
):
    """A completed CPU run's metrics.json with the fields the report reads."""
    return {
        "status": "completed",
        "model": model,
        "family": "causal" if "llama" in model or "gpt" in model else "seq2seq",
        "backend_requested": backend,
        "backend_effective": effective or backend,
        "device": "cpu",
        "seed": 42,
        "dev_rouge1": rouge[0],
        "dev_rouge2": rouge[1],
        "dev_rougeL": rouge[2],
        "dev_rouge_mean": sum(rouge) / 3,
        "memory_model_state_bytes": state_mb * MB,
        "memory_train_peak_mb": None,
        "memory_train_rss_added_mb": rss_mb,  # what the training steps added to the CPU process
        "train_trained_tokens_per_second": tokens,
        "train_load_average": 1.0,
        "cpu_count": 2,
        "train_runtime_s": 12.5,
        "params_trainable": 1000,
        "params_total": 5000,
        "params_trainable_ratio": 0.2,
        **extra,
    }


def make_run(root, name, metrics=None, overrides=None, config=None, examples=None):
    """A run folder; `examples`: a DataFrame written as its dev_predictions.csv. A completed run without them
    gets a dev_predictions.csv with no per-example ROUGE (as older runs wrote it): a completed record without
    that file is a partial copy, which the report does not show as completed."""
    if examples is None and (metrics or {}).get("status") == "completed":
        examples = pd.DataFrame({"fname": ["dev_0"], "prediction": ["a summary"], "summary": ["a reference"]})
    run = root / name
    (run / ".hydra").mkdir(parents=True)
    if metrics is not None:
        (run / "metrics.json").write_text(json.dumps({**metrics, "run_dir": str(run)}))
    if overrides is not None:
        (run / ".hydra" / "overrides.yaml").write_text("".join(f"- {o}\n" for o in overrides))
    if config is not None:
        (run / ".hydra" / "config.yaml").write_text(yaml.safe_dump(config, allow_unicode=True))
    if examples is not None:
        examples.to_csv(run / "dev_predictions.csv", index=False)
    return run


def dev_predictions(scores, fnames=None, references=None, predictions=None) -> pd.DataFrame:
    """dev_predictions.csv with the given per-example ROUGE mean (0-100); ROUGE-1/2/L set around it."""
    scores = np.asarray(scores, dtype=float)
    fnames = fnames or [f"dev_{i}" for i in range(len(scores))]
    references = references or [f"reference {i}" for i in range(len(scores))]
    predictions = predictions or [f"summary {i} scoring {s:.1f}" for i, s in enumerate(scores)]
    return pd.DataFrame(
        {
            "fname": fnames,
            "prediction": predictions,
            "summary": references,
            "rouge1": scores + 5,
            "rouge2": scores - 10,
            "rougeL": scores + 5,
            "rouge_mean": scores,
        }
    )


def config(model="tiny_bart", backend="full", seed=42, data=None, **rest) -> dict:
    """A saved .hydra/config.yaml (the parts the report reads, and enough to tell configs apart)."""
    return {
        "model": {"name": model},
        "backend": {"name": backend},
        "seed": seed,
        "data": data or {"name": "sample", "source": "sample", "max_eval_samples": 4},
        "optim": {"lr": 0.001},
        **rest,
    }


# --- real runs: made in-process, or started through the CLI ----------------------------------------------------------


def metrics(run_dir: Path) -> dict:
    return json.loads((run_dir / "metrics.json").read_text())


def train_losses(run_dir) -> list[float]:
    """The training losses train_log.jsonl recorded, in step order."""
    entries = [json.loads(line) for line in (run_dir / "train_log.jsonl").read_text().splitlines()]
    return [entry["loss"] for entry in entries if "loss" in entry]


def job_dirs(sweep_dir: Path) -> list[Path]:
    return sorted(
        (p for p in sweep_dir.iterdir() if p.is_dir() and p.name[0].isdigit()), key=lambda p: int(p.name.split("_")[0])
    )


def finished_run(compose_config, run_dir: Path, *overrides) -> Path:
    """A run as the CLI leaves it: the task's outputs plus Hydra's resolved .hydra/config.yaml."""
    from sumexp.task import run_experiment

    cfg = compose_config(list(overrides))
    run_experiment(cfg, run_dir=run_dir)
    (run_dir / ".hydra").mkdir(exist_ok=True)
    OmegaConf.save(cfg, run_dir / ".hydra" / "config.yaml", resolve=True)
    return run_dir


# Checkpoints every 10 steps; 60 steps leave time to interrupt after one exists.
SHORT_RUN = [
    "optim.max_steps=60",
    "optim.eval_steps=10",
    "optim.logging_steps=5",
    "data.max_eval_samples=8",
    "generation.num_beams=1",
    "generation.max_new_tokens=24",
]


def start_run(run_dir, *extra):
    return subprocess.Popen(
        [sys.executable, "-m", "sumexp", f"hydra.run.dir={run_dir}", *SHORT_RUN, *extra],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        **REPO_ROOT_ENV,
    )


def wait_for_checkpoint(run_dir, step: int, process, timeout: float = 600):
    deadline = time.monotonic() + hang_limit(timeout)
    while not (run_dir / "checkpoints" / f"checkpoint-{step}" / "trainer_state.json").is_file():
        assert process.poll() is None, process.communicate()[1][-2000:]
        assert time.monotonic() < deadline, "no checkpoint in time"
        time.sleep(0.1)
