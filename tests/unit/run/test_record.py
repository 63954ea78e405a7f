"""The run record (sumexp/run/record.py): every status a run can end in is written and read
back by the one module that owns metrics.json, and the readers compare against its constants."""

from __future__ import annotations

import json
import re
import subprocess

import pytest

from sumexp.run import record as run_record
from tests.support.repo import REPO


@pytest.mark.parametrize("status", [run_record.FAILED, run_record.INTERRUPTED, run_record.UNSUPPORTED])
def test_every_stop_status_round_trips(compose_config, tmp_path, status):
    cfg = compose_config([])
    run_record.write_running(tmp_path, cfg)
    running = run_record.read_metrics(tmp_path)
    assert running["status"] == run_record.RUNNING and running["pid"] > 0
    run_record.write_failed(cfg, tmp_path, status, "train", "first line\nsecond line", 1.5)
    record = run_record.read_metrics(tmp_path)
    assert record["status"] == status and record["error"] == "first line"  # one line, always
    assert record["config_hash"] == run_record.config_hash(cfg) and record["started_at"] == running["started_at"]
    assert run_record.completed_record(tmp_path, cfg) is None


def test_a_completed_record_round_trips_and_vouches_only_for_its_config(compose_config, tmp_path):
    cfg = compose_config([])
    run_record.write_completed(tmp_path, {"config_hash": run_record.config_hash(cfg), "dev_rouge_mean": 12.5})
    assert json.loads((tmp_path / "metrics.json").read_text())["status"] == run_record.COMPLETED
    assert run_record.completed_record(tmp_path, cfg)["dev_rouge_mean"] == 12.5
    assert run_record.completed_record(tmp_path, compose_config(["optim.lr=0.001"])) is None


def test_the_status_values_are_spelt_only_in_the_record_module():
    spelt = subprocess.run(
        ["grep", "-rn", r'"completed"\|"failed"\|"interrupted"\|"unsupported"\|"running"', "sumexp/", "hydra_plugins/"],
        capture_output=True,
        text=True,
        cwd=REPO,
    ).stdout.splitlines()
    elsewhere = [line for line in spelt if not re.match(r"sumexp/run/record\.py:", line)]
    assert elsewhere == [] and any(line.startswith("sumexp/run/record.py:") for line in spelt)
