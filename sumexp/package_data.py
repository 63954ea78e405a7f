"""The files sumexp ships beside its code, found the same way in a checkout and in an installed wheel.

conf/ stays at the top of the repository, where Hydra users look for it; `sumexp/conf` links to it, so
the wheel carries it inside the package and `importlib.resources` finds it in both places.
"""

from __future__ import annotations

from importlib.resources import files
from pathlib import Path

# Resolved: in a checkout, the real conf/ at the top of the repository (not the link to it).
CONF_DIR = Path(str(files("sumexp") / "conf")).resolve()


def report_asset(name: str) -> str:
    """The text of one of report.html's own files (page.css, page.js)."""
    return (files("sumexp.report") / name).read_text(encoding="utf-8")
