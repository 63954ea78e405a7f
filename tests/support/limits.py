"""Time limits in the tests: each one stops a hang, none measures speed (bench/ does that, as ratios).

Every limit is sized for a calm 2-core machine and stretched by SLACK, so that a loaded machine (CI,
pytest sessions side by side) makes a test slower, never red: on 2 cores at load 8 a process runs about
four times slower than alone. SUMEXP_TEST_SLACK overrides it (1 finds a hang soonest on a calm machine).
"""

from __future__ import annotations

import os

SLACK = float(os.environ.get("SUMEXP_TEST_SLACK", "4"))


def hang_limit(seconds: float) -> float:
    """`seconds` on a calm machine, stretched to what a loaded one may need."""
    return seconds * SLACK
