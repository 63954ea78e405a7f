"""What a run used: peak memory, parameter counts, the device and library versions."""
from __future__ import annotations

import resource
from importlib import metadata


def peak_memory_mb() -> tuple[float, str]:
    """CUDA max allocated where there is CUDA, otherwise this process's peak resident memory."""
    import torch

    if torch.cuda.is_available():
        return torch.cuda.max_memory_allocated() / 2**20, "cuda_max_allocated"
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, "process_peak_rss"  # Linux: KiB


def reset_peak_memory() -> None:
    import torch

    if torch.cuda.is_available():
        torch.cuda.reset_peak_memory_stats()


def parameter_counts(model) -> tuple[int, int]:
    """(total, trainable) parameters."""
    total = sum(p.numel() for p in model.parameters())
    trainable = sum(p.numel() for p in model.parameters() if p.requires_grad)
    return total, trainable


def device_name() -> str:
    import torch

    return f"cuda:{torch.cuda.get_device_name(0)}" if torch.cuda.is_available() else "cpu"


def versions() -> dict[str, str | None]:
    found = {}
    for package in ("sumexp", "torch", "transformers", "peft", "tokenizers"):
        try:
            found[package] = metadata.version(package)
        except metadata.PackageNotFoundError:
            found[package] = None
    return found
