"""Choose the training precision from the request, the model's guard and the hardware."""

from __future__ import annotations

PRECISIONS = ("auto", "bf16", "fp16", "fp32")


def resolve_precision(requested: str, allow_fp16: bool, cuda: bool, bf16_supported: bool) -> tuple[str, str | None]:
    """(effective precision, why it differs from the request, or None)."""
    if requested == "fp32":
        return "fp32", None
    if not cuda:
        return "fp32", None if requested == "auto" else f"optim.precision={requested} needs a CUDA GPU; trained in fp32"
    if requested == "auto":
        return ("bf16" if bf16_supported else "fp16" if allow_fp16 else "fp32"), None
    if requested == "bf16" and not bf16_supported:
        fallback = "fp16" if allow_fp16 else "fp32"
        return fallback, f"this GPU has no bf16; trained in {fallback}"
    if requested == "fp16" and not allow_fp16:
        fallback = "bf16" if bf16_supported else "fp32"
        return fallback, f"model.allow_fp16=false (its loss goes NaN in fp16); trained in {fallback}"
    return requested, None
