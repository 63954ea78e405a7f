"""Honest labels: a backend that runs as another one says so, on the terminal in one warning line and in
metrics.json (backend_requested, backend_effective, backend_note). unsloth runs in its own process (CLI)."""

from __future__ import annotations

import json

import pytest

from tests.support.cli import expect_one_line_error, sumexp_cli
from tests.support.skips import skip_unless_unsloth

SHORT = [
    "optim.max_steps=2",
    "data.max_train_samples=32",
    "data.max_eval_samples=4",
    "optim.eval_on_start=false",
    "generation.num_beams=1",
    "generation.max_new_tokens=8",
    "score.tokenizer=whitespace",
]


def warning_lines(run) -> list[str]:
    return [line for line in (run.stdout + run.stderr).splitlines() if "[WARNING]" in line and "backend=" in line]


@pytest.mark.slow
def test_unsloth_on_a_cpu_is_recorded_and_announced_as_qlora(tmp_path):
    run = sumexp_cli(f"hydra.run.dir={tmp_path}", "model=tiny_llama", "backend=unsloth", *SHORT)
    skip_unless_unsloth(run)
    assert run.returncode == 0, run.stderr[-3000:]
    [line] = warning_lines(run)
    assert "backend=unsloth on cpu: unsloth's CPU loader (unsloth_zoo.cpu.FastCPUModel)" in line
    assert line.endswith("no unsloth kernel or loss ran; recorded as qlora")
    metrics = json.loads((tmp_path / "metrics.json").read_text())
    assert (metrics["backend_requested"], metrics["backend_effective"]) == ("unsloth", "qlora")
    assert line.endswith(metrics["backend_note"])
    assert "sumexp: tiny_llama / unsloth -> qlora | dev ROUGE" in run.stdout


@pytest.mark.slow
def test_a_fallback_prints_one_warning_line_naming_both_backends(tmp_path):
    run = sumexp_cli(f"hydra.run.dir={tmp_path}", "model=tiny_t5", "backend=unsloth", *SHORT)
    skip_unless_unsloth(run)
    assert run.returncode == 0, run.stderr[-3000:]
    [line] = warning_lines(run)
    assert "backend=unsloth cannot serve model=tiny_t5 (seq2seq) on cpu: " in line
    assert line.endswith("trained with qlora instead")
    metrics = json.loads((tmp_path / "metrics.json").read_text())
    assert (metrics["backend_requested"], metrics["backend_effective"]) == ("unsloth", "qlora")
    assert line.endswith(metrics["backend_note"])
    assert "sumexp: tiny_t5 / unsloth -> qlora | dev ROUGE" in run.stdout


@pytest.mark.slow
def test_unservable_pairing_without_fallback_is_one_line_exit_2_and_unsupported(tmp_path):
    run = sumexp_cli(f"hydra.run.dir={tmp_path}", "model=tiny_t5", "backend=unsloth", "backend.fallback=false")
    expect_one_line_error(run, "backend=unsloth cannot serve model=tiny_t5 (seq2seq) on cpu", "backend.fallback=true")
    record = json.loads((tmp_path / "metrics.json").read_text())
    assert record["status"] == "unsupported" and record["stage"] == "backend"
    assert "FastModel on a GPU only" in record["error"]
