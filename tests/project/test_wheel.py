"""The wheel works on its own: `pip install .` (not editable) composes a run and writes a whole report.

The wheel is built from the checkout, installed into a clean folder, and used from a folder outside the
checkout, so nothing can be found through the repository: the config groups and the report page's own
files must be inside the package.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import zipfile

import pytest

from sumexp.package_data import CONF_DIR
from tests.support.cli import OFFLINE, QUICK_NO_CHECKPOINT
from tests.support.limits import hang_limit
from tests.support.repo import REPO


def _run(*args, **kwargs) -> subprocess.CompletedProcess:
    return subprocess.run(list(map(str, args)), capture_output=True, text=True, timeout=hang_limit(300), **kwargs)


@pytest.fixture(scope="module")
def installed_wheel(tmp_path_factory):
    """(site folder the wheel was installed into, the wheel's file names)."""
    root = tmp_path_factory.mktemp("wheel")
    built = _run(sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "--no-build-isolation", "-w", root, REPO)
    assert built.returncode == 0, built.stderr[-3000:]
    (wheel,) = root.glob("sumexp-*.whl")
    site = root / "site"
    installed = _run(sys.executable, "-m", "pip", "install", "-q", "--no-deps", "--no-index", "--target", site, wheel)
    assert installed.returncode == 0, installed.stderr[-3000:]
    return site, zipfile.ZipFile(wheel).namelist()


@pytest.mark.slow
def test_the_wheel_carries_every_config_file_and_the_report_page(installed_wheel):
    _site, names = installed_wheel
    shipped = sorted(str(p.relative_to(CONF_DIR)) for p in CONF_DIR.rglob("*.yaml"))
    assert len(shipped) > 20
    missing = [name for name in shipped if f"sumexp/conf/{name}" not in names]
    assert not missing, missing
    assert {"sumexp/report/page.js", "sumexp/report/page.css"} <= set(names)


@pytest.mark.slow
def test_the_installed_wheel_runs_a_job_and_reports_it_from_outside_the_checkout(installed_wheel, tmp_path):
    site, _names = installed_wheel
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    env = {**os.environ, **OFFLINE, "PYTHONPATH": str(site)}
    where = _run(sys.executable, "-c", "import sumexp.package_data as p; print(p.CONF_DIR)", cwd=elsewhere, env=env)
    assert where.stdout.strip() == str((site / "sumexp" / "conf").resolve()), where.stderr[-2000:]
    run_dir = tmp_path / "run"
    run = _run(sys.executable, "-m", "sumexp", f"hydra.run.dir={run_dir}", *QUICK_NO_CHECKPOINT, cwd=elsewhere, env=env)
    assert run.returncode == 0, run.stderr[-3000:]
    assert json.loads((run_dir / "metrics.json").read_text())["status"] == "completed"
    report = _run(sys.executable, "-m", "sumexp.report", tmp_path, cwd=elsewhere, env=env)
    assert report.returncode == 0, report.stderr[-3000:]
    page = (tmp_path / "report.html").read_text(encoding="utf-8")
    css = (REPO / "sumexp" / "report" / "page.css").read_text(encoding="utf-8")
    assert css.strip().splitlines()[0] in page  # the page's own style sheet, inlined from the installed package
