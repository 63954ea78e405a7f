"""Skips that say why, and fail instead where CI asks for the thing to be there."""

from __future__ import annotations

import os

import pytest


def skip_unless_unsloth(run) -> None:
    """Skip (or, under SUMEXP_REQUIRE_UNSLOTH=1, fail) when the run says unsloth cannot be imported."""
    line = next((text for text in run.stderr.splitlines() if text.startswith("sumexp: error:")), "")
    if run.returncode == 2 and ("unsloth is not installed" in line or "unsloth cannot be imported" in line):
        if os.environ.get("SUMEXP_REQUIRE_UNSLOTH") == "1":
            pytest.fail(f"SUMEXP_REQUIRE_UNSLOTH=1 but {line}")
        pytest.skip(line)
