"""The terminal of a run: one training bar, one line per evaluation, the summary; verbose=true shows the rest."""

from __future__ import annotations

import re

import pytest

from tests.support.cli import QUICK_NO_CHECKPOINT, sumexp_cli

pytestmark = pytest.mark.slow  # every test here starts a process or trains a model

# Two evaluations (untrained, then after 2 steps), so there are two dev lines; the loss is logged every step.
RUN = [
    *[o for o in QUICK_NO_CHECKPOINT if not o.startswith("optim.eval_on_start")],
    "optim.eval_on_start=true",
    "optim.logging_steps=1",
]


def visible_lines(stream: str) -> list[str]:
    """What stays on a terminal: the last state of each carriage-return-updated line."""
    return [line.split("\r")[-1].strip() for line in stream.splitlines() if line.split("\r")[-1].strip()]


@pytest.mark.slow
def test_a_run_prints_a_bar_one_line_per_evaluation_and_the_summary(tmp_path):
    run = sumexp_cli(f"hydra.run.dir={tmp_path}", *RUN)
    assert run.returncode == 0, run.stderr[-3000:]
    out = visible_lines(run.stdout)
    assert len(out) == 3, out
    assert re.fullmatch(r"dev @ step 0 \(untrained\): loss [\d.]+, ROUGE mean [\d.]+", out[0])
    assert re.fullmatch(r"dev @ step 2 \(epoch [\d.]+\): loss [\d.]+, ROUGE mean [\d.]+", out[1])
    assert out[2].startswith("sumexp: tiny_bart / full | dev ROUGE")
    err = visible_lines(run.stderr)
    assert err and all(line.startswith("train:") for line in err), err  # nothing but the training bar
    assert "2/2" in err[-1] and "dev ROUGE=" in err[-1] and "loss=" in err[-1], err[-1]
    log = (tmp_path / "sumexp.log").read_text()
    assert "step 2: {'eval_loss'" in log  # the detail is kept in the run's log


@pytest.mark.slow
def test_verbose_brings_the_detail_back_to_the_terminal(tmp_path):
    run = sumexp_cli(f"hydra.run.dir={tmp_path}", *RUN, "verbose=true")
    assert run.returncode == 0, run.stderr[-3000:]
    assert "dev generate" in run.stderr and "[INFO] - step 2: {'eval_loss'" in run.stdout + run.stderr
