"""Precision: the model's fp16 guard and the hardware decide, and every downgrade says why."""

import pytest

from sumexp.training.precision import resolve_precision


@pytest.mark.parametrize(
    "requested, allow_fp16, cuda, bf16, expected, noted",
    [
        ("auto", True, False, False, "fp32", False),
        ("fp16", True, False, False, "fp32", True),
        ("auto", True, True, True, "bf16", False),
        ("auto", True, True, False, "fp16", False),
        ("auto", False, True, False, "fp32", False),
        ("fp16", False, True, True, "bf16", True),
        ("fp16", False, True, False, "fp32", True),
        ("fp16", True, True, True, "fp16", False),
        ("bf16", True, True, False, "fp16", True),
        ("fp32", True, True, True, "fp32", False),
    ],
)
def test_resolve_precision(requested, allow_fp16, cuda, bf16, expected, noted):
    effective, note = resolve_precision(requested, allow_fp16, cuda, bf16)
    assert effective == expected
    assert (note is not None) == noted
