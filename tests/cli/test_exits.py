"""Each way the CLI refuses, once in a real process: exit status 2 (1 for Hydra's composition errors), one line,
no traceback. Every other refusal test runs the CLI in-process (tests/support/in_process.py); these hold
that what the process itself prints and returns is the same."""

from __future__ import annotations

import json

import pytest

from tests.support.cli import expect_one_line_error, sumexp_cli


def _completed_elsewhere(run_dir):
    """A run folder whose record says a run of another config completed there."""
    run_dir.mkdir(parents=True)
    (run_dir / "metrics.json").write_text(json.dumps({"status": "completed", "config_hash": "another config"}))


ROUTES = {  # route: (arguments, setup of the run folder, fragments of the one line)
    "a path as a group option, refused before Hydra composes": (
        ["model=../../../../../../tmp/evil"],
        None,
        ["not a path"],
    ),
    "the folder guard, before Hydra writes the folder": ([], _completed_elsewhere, ["completed run of another config"]),
    "a run folder that cannot be made": (["hydra.run.dir=/proc/sumexp_no_such_folder"], None, ["cannot create"]),
    "the config check inside the task": (["optim.precision=fp8"], None, ["optim.precision"]),
    "the data, read by the task": (["data=dialogsum_ko", "data.dir=/nonexistent/data"], None, ["data.dir="]),
}


@pytest.mark.slow
@pytest.mark.parametrize("route", ROUTES)
def test_each_refusal_route_is_one_line_and_exit_2_in_a_real_process(route, tmp_path):
    args, setup, fragments = ROUTES[route]
    run_dir = tmp_path / "run"
    if setup:
        setup(run_dir)
    run = sumexp_cli(f"hydra.run.dir={run_dir}", *args, process=True)
    expect_one_line_error(run, *fragments)


@pytest.mark.slow
def test_a_composition_mistake_exits_1_with_hydras_message_in_a_real_process(tmp_path):
    run = sumexp_cli(f"hydra.run.dir={tmp_path}/run", "model=no_such_model", process=True)
    assert run.returncode == 1 and "Traceback" not in run.stderr
    assert "Could not find 'model/no_such_model'" in run.stderr
