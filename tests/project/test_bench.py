"""The benchmarks in bench/ stay runnable: their helpers, and three of them end to end in --quick mode."""

from __future__ import annotations

import importlib
import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from tests.support.limits import hang_limit
from tests.support.repo import REPO

BENCHMARKS = sorted(p.stem for p in (REPO / "bench").glob("bench_*.py"))


@pytest.mark.parametrize("name", BENCHMARKS)
def test_every_benchmark_imports(name):
    module = importlib.import_module(f"bench.{name}")
    assert callable(module.main) and module.__doc__.splitlines()[0]


def test_padding_fraction_counts_each_batch_to_its_longest_row():
    from bench.bench_generation import padding_fraction

    # batches [2, 4] and [4, 2]: 12 padded tokens, 12 real -> none saved by order here
    assert padding_fraction([2, 4, 4, 2], 2) == pytest.approx(1 - 12 / 16)
    assert padding_fraction(sorted([2, 4, 4, 2]), 2) == 0.0


def test_bare_hydra_config_is_sumexps_without_the_schema_and_callback(tmp_path):
    from bench.bench_startup import bare_conf

    conf = bare_conf(tmp_path)
    top = yaml.safe_load((conf / "config.yaml").read_text(encoding="utf-8"))
    assert "run_schema" not in top["defaults"] and "callbacks" not in top["hydra"]
    assert {"model": "tiny_bart"} in top["defaults"]
    assert sorted(p.name for p in conf.iterdir()) == sorted(p.name for p in (REPO / "conf").iterdir())


def test_eval_share_adds_one_mean_evaluation_for_the_final_pass():
    from bench.bench_eval_share import share_rows

    now, before = share_rows("run", wall=12.0, metrics={"eval_seconds": 3.0, "run_seconds": 10.0}, count=3)
    assert now[1:5] == [3, 3.0, 10.0, "30.0%"]
    assert before[1:5] == [4, 4.0, 11.0, f"{4 / 11:.1%}"]


def test_length_grouping_reaches_sumexps_train_dataloader():
    """The padding the batches benchmark reports comes from the Trainer sumexp builds, grouped or not."""
    from bench.bench_batches import padding_fractions

    fractions = padding_fractions(["model=tiny_bart", "data=sample", "optim.batch_size=8", "cache_dir=null"])
    assert fractions[True][0] < fractions[False][0] / 2  # sources: grouped batches pad far less


def test_generation_benchmark_quick_gives_identical_summaries(monkeypatch, capsys):
    import torch

    from bench import bench_generation
    from bench.common import THREAD_VARIABLES

    for name in THREAD_VARIABLES:  # the benchmark sets them; setenv records the value to restore (or unset)
        monkeypatch.setenv(name, os.environ.get(name, "1"))
    threads = torch.get_num_threads()
    monkeypatch.setattr(sys, "argv", ["bench_generation.py", "--quick"])
    try:
        assert bench_generation.main() == 0
    finally:
        torch.set_num_threads(threads)
    out = capsys.readouterr().out
    assert "summaries: identical" in out and "sumexp generate_summaries" in out


@pytest.mark.slow
def test_startup_benchmark_quick_runs_both_apps_without_torch():
    done = subprocess.run(
        [sys.executable, "bench/bench_startup.py", "--quick"],
        capture_output=True,
        text=True,
        cwd=REPO,
        timeout=hang_limit(300),
    )
    assert done.returncode == 0, done.stderr[-2000:]
    assert "neither app imports torch or transformers" in done.stdout
    assert "sumexp / bare Hydra, --cfg job:" in done.stdout and "sumexp / bare Hydra, --help:" in done.stdout


@pytest.mark.slow
def test_overhead_benchmark_quick_trains_both_sides_to_identical_losses():
    done = subprocess.run(
        [sys.executable, "bench/bench_overhead.py", "--quick"],
        capture_output=True,
        text=True,
        cwd=REPO,
        timeout=hang_limit(600),
    )
    assert done.returncode == 0, done.stderr[-2000:]  # exit 1 when any logged loss differs
    assert "losses: all 3 logged training losses identical" in done.stdout


@pytest.mark.slow
def test_report_benchmark_quick_reports_every_fabricated_run_and_dialogue():
    done = subprocess.run(
        [sys.executable, "bench/bench_report.py", "--quick"],
        capture_output=True,
        text=True,
        cwd=REPO,
        timeout=hang_limit(600),
    )
    assert done.returncode == 0, done.stderr[-2000:]  # exit 1 when a row or a dev dialogue is missing
    assert "report of 8 runs x 20 examples:" in done.stdout


def _sweep_lines(capsys) -> list[str]:
    """The progress lines sumexp's launcher prints for a 2-job sweep whose second job fails."""
    from types import SimpleNamespace

    from sumexp.sweep.launching import Progress

    progress = Progress(2)
    first, second = (SimpleNamespace(number=n, run_dir=Path(f"{n - 1}_tiny_bart_full")) for n in (1, 2))
    progress.say("sweep of 2 job(s) in multirun/x, 1 at a time; each job's output is in its folder")
    progress.started(first)
    progress.finished(first, "completed", {"status": "completed", "dev_rouge_mean": 1.0}, 4.1)
    progress.started(second)
    progress.finished(second, "failed", {"status": "failed", "error": "x: started"}, 3.9)
    print("sumexp: sweep finished: multirun/x\n  0_tiny_bart_full  completed  ROUGE mean 1.00  4 s")
    return capsys.readouterr().out.splitlines()


def test_sweep_benchmark_splits_the_wall_time_at_the_launchers_progress_lines(capsys):
    from bench.bench_sweep import phases

    lines = list(zip([0.5, 0.9, 5.0, 5.1, 9.0, 9.2, 9.3], _sweep_lines(capsys)))
    split = phases(lines, wall=9.5)
    assert split == pytest.approx(
        {"before the first job": 0.9, "in jobs": 4.1 + 3.9, "between jobs": 0.1, "after the last job": 0.5}
    )
    assert sum(split.values()) == pytest.approx(9.5)  # every second of the sweep is in one phase
    with pytest.raises(SystemExit):  # a job that never reported its end cannot be timed
        phases(lines[:4], wall=9.5)


def test_sweep_benchmark_flags_a_job_whose_score_or_status_differs():
    import copy

    from bench.bench_sweep import jobs, mismatches

    sweep = {"metrics": {job: {"status": "completed", "dev_rouge_mean": 12.5} for job in jobs()}}
    single = copy.deepcopy(sweep)
    assert mismatches([sweep, single]) == []
    single["metrics"][jobs()[2]]["dev_rouge_mean"] = 12.500001
    del sweep["metrics"][jobs()[0]]  # a job that left no metrics.json
    problems = mismatches([sweep, single])
    assert len(problems) == 2 and problems[0].startswith(f"{jobs()[0][0]}/{jobs()[0][1]}: status")
    assert "12.500001" in problems[1]
