"""Hydra's LauncherTestSuite, BatchedSweeperTestSuite and IntegrationTestSuite pass against
hydra/launcher=local (tests/project/hydra_suites/launcher_suites.py, in a pytest process of its own)."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

from tests.support.limits import hang_limit

SUITES = Path(__file__).resolve().parent / "hydra_suites" / "launcher_suites.py"


@pytest.mark.slow
def test_hydras_launcher_suites_pass_against_the_local_launcher(tmp_path):
    run = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "--noconftest", "-p", "no:cacheprovider", str(SUITES)],
        capture_output=True,
        text=True,
        timeout=hang_limit(1800),
        cwd=tmp_path,
    )
    assert run.returncode == 0, run.stdout[-4000:] + run.stderr[-2000:]
    passed = re.search(r"(\d+) passed", run.stdout)
    assert passed and int(passed.group(1)) >= 20 and "failed" not in run.stdout.splitlines()[-1], run.stdout[-2000:]
