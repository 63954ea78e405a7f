"""The pieces of a sweep without running one: fingerprints, skip decisions, dead children, the console filter."""

from __future__ import annotations

import json
import logging
from pathlib import Path

import pytest

from sumexp.run import record as records
from sumexp.run.console import ConsoleFilter
from sumexp.sweep import launching


def task_only(cfg):
    return launching.Job(0, cfg, Path("unused")).task_config


def test_fingerprint_counts_a_credential_as_set_not_by_its_value(job_config):
    """A rotated token computes the same run: a sweep re-run with it skips what completed instead of refusing
    the folders as another config's. A config that lost its token to the literal REDACTED is not the same run."""
    from sumexp.security.secrets import REDACTED

    with_token = records.config_hash(task_only(job_config(["+hf_token=hf_FakeOldToken123456"])))
    assert with_token == records.config_hash(task_only(job_config(["+hf_token=hf_FakeNewToken654321"])))
    assert with_token != records.config_hash(task_only(job_config()))
    assert with_token != records.config_hash(task_only(job_config([f"+hf_token={REDACTED}"])))


def test_fingerprint_ignores_display_keys_and_hydra_but_not_values(job_config):
    base = task_only(job_config())
    assert "hydra" not in base
    assert records.config_hash(base) == records.config_hash(task_only(job_config(["force=true", "verbose=true"])))
    assert records.config_hash(base) == records.config_hash(job_config())  # the hydra node is not part of it
    assert records.config_hash(base) != records.config_hash(task_only(job_config(["optim.lr=0.001"])))
    assert records.config_hash(base) != records.config_hash(task_only(job_config(["model=tiny_t5"])))


def test_only_a_completed_run_of_the_same_config_is_skipped(job_config, tmp_path):
    cfg = task_only(job_config())
    write = lambda record: (tmp_path / "metrics.json").write_text(json.dumps(record))  # noqa: E731
    assert records.completed_record(tmp_path, cfg) is None  # nothing there
    write({"status": "completed", "config_hash": records.config_hash(cfg), "dev_rouge_mean": 12.5})
    assert records.completed_record(tmp_path, cfg)["dev_rouge_mean"] == 12.5
    write({"status": "completed", "config_hash": "0" * 16})
    assert records.completed_record(tmp_path, cfg) is None  # another config ran here
    write({"status": "failed", "config_hash": records.config_hash(cfg)})
    assert records.completed_record(tmp_path, cfg) is None
    (tmp_path / "metrics.json").write_text('{"status": "compl')  # half a file from elsewhere
    assert records.completed_record(tmp_path, cfg) is None


def test_a_child_that_died_is_recorded_as_failed(job_config, tmp_path, capsys):
    job = launching.Job(0, job_config(), tmp_path / "0_tiny_bart_full")
    job.run_dir.mkdir()
    (job.run_dir / "metrics.json").write_text(json.dumps({"status": "running"}))
    result = launching._finish(job, -9, tmp_path, seconds=3.0, progress=launching.Progress(1))
    record = json.loads((job.run_dir / "metrics.json").read_text())
    assert (record["status"], record["stage"], record["model"], record["backend_requested"]) == (
        "failed",
        "process",
        "tiny_bart",
        "full",
    )
    assert "killed by SIGKILL" in record["error"] and result.return_value is None
    assert "0_tiny_bart_full: failed in 3 s" in capsys.readouterr().out


@pytest.mark.parametrize(
    "name, level, verbose, shown",
    [
        ("sumexp.task", logging.WARNING, False, True),
        ("sumexp.task", logging.INFO, False, False),
        ("transformers.trainer", logging.WARNING, False, False),
        ("torchao", logging.ERROR, False, True),
        ("transformers.trainer", logging.INFO, True, True),
    ],
)
def test_console_filter(name, level, verbose, shown):
    record = logging.LogRecord(name, level, __file__, 1, "message", None, None)
    assert ConsoleFilter(verbose).filter(record) is shown


def test_a_backend_that_cannot_serve_is_recorded_as_unsupported():
    from sumexp.app.job import _status_of
    from sumexp.backends.base import BackendUnsupported
    from sumexp.errors import UserError

    assert _status_of(BackendUnsupported("qlora needs CUDA")) == "unsupported"
    assert _status_of(UserError("optim.lr=-1: must be positive")) == "failed"


def test_a_fallback_is_one_warning_line_on_the_sweeps_terminal(tmp_path, capsys):
    from types import SimpleNamespace

    from sumexp.sweep.progress import Progress

    job = SimpleNamespace(number=3, run_dir=tmp_path / "2_tiny_t5_unsloth")  # all the progress lines read
    note = "backend=unsloth cannot serve model=tiny_t5 (seq2seq) on cpu: ...; trained with qlora instead"
    ran_as_asked = {"status": "completed", "dev_rouge_mean": 7.5, "backend_requested": "lora"}
    Progress(3).finished(job, "completed", {**ran_as_asked, "backend_effective": "lora"}, 4.0)
    Progress(3).finished(
        job,
        "completed",
        {**ran_as_asked, "backend_requested": "unsloth", "backend_effective": "qlora", "backend_note": note},
        4.0,
    )
    lines = capsys.readouterr().out.splitlines()
    assert lines == [
        "sumexp: [3/3] 2_tiny_t5_unsloth: completed in 4 s, dev ROUGE mean 7.50",
        "sumexp: [3/3] 2_tiny_t5_unsloth: completed in 4 s, dev ROUGE mean 7.50",
        f"sumexp: [3/3] 2_tiny_t5_unsloth: warning: backend unsloth ran as qlora: {note}",
    ]
