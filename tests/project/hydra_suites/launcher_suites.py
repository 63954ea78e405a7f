"""Hydra's own launcher test suites against sumexp's local launcher (hydra/launcher=local), one job at a
time and two at once: the launcher is a Hydra plugin registered for every app in the environment, so it
must behave as Hydra's launchers do for any app, not only for sumexp.

Run by tests/project/test_hydra_launcher_suites.py in a pytest of its own without sumexp's conftest: importing
sumexp's CLI sets Hydra's version base for the whole process, and these suites expect Hydra's default."""

from __future__ import annotations

import pytest
from hydra.test_utils.launcher_common_tests import BatchedSweeperTestSuite, IntegrationTestSuite, LauncherTestSuite

LOCAL = [("local", []), ("local", ["hydra.launcher.max_parallel=2"])]


@pytest.mark.parametrize("launcher_name, overrides", LOCAL)
class TestLocalLauncher(LauncherTestSuite):
    pass


@pytest.mark.parametrize("launcher_name, overrides", [("local", ["hydra.sweeper.max_batch_size=2"])])
class TestLocalLauncherWithBatches(BatchedSweeperTestSuite):
    pass


@pytest.mark.parametrize("task_launcher_cfg, extra_flags", [({}, ["-m", "hydra/launcher=local"])])
class TestLocalLauncherIntegration(IntegrationTestSuite):
    pass
