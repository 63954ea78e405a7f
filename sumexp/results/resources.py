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


# Dense bf16 peak FLOP/s of common training GPUs (vendor data sheets, without sparsity).
GPU_BF16_PEAK_FLOPS = {
    "H200": 989e12, "H100": 989e12, "A100": 312e12, "L40S": 362e12, "L4": 121e12,
    "A10": 125e12, "RTX 4090": 165e12, "RTX 3090": 71e12, "V100": 125e12, "T4": 65e12,
}


def model_flops_utilization(params: int, tokens_per_second: float | None) -> float | None:
    """Achieved over peak FLOP/s, with the usual 6 FLOPs per parameter per trained token.

    None on a CPU or an unknown GPU. Adapter training skips most weight gradients, so its MFU by
    this count overstates the work done; compare it between runs of the same backend.
    """
    import torch

    if not tokens_per_second or not torch.cuda.is_available():
        return None
    name = torch.cuda.get_device_name(0)
    peak = next((flops for gpu, flops in GPU_BF16_PEAK_FLOPS.items() if gpu in name), None)
    return 6 * params * tokens_per_second / peak if peak else None


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
