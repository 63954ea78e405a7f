"""What a run used: peak memory, parameter counts, the device and library versions."""

from __future__ import annotations

import os
import resource
from importlib import metadata


def peak_memory_mb() -> tuple[float, str]:
    """CUDA max allocated from the run's start (loading, training and generation) where there is CUDA;
    otherwise this process's lifetime peak resident memory: the libraries, the scorer and, in a sweep
    job, what the process inherited. memory.py measures the backend itself."""
    from sumexp.results.memory import CUDA

    if CUDA.available():
        return CUDA.lifetime_peak_mb(), "cuda_max_allocated"
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, "process_peak_rss"  # Linux: KiB


def reset_peak_memory() -> None:
    from sumexp.results.memory import reset_run_peaks

    reset_run_peaks()


def cpu_count() -> int:
    """The CPUs this process may run on (its affinity set where the OS has one)."""
    if hasattr(os, "sched_getaffinity"):
        return len(os.sched_getaffinity(0))
    return os.cpu_count() or 1


def parameter_counts(model) -> tuple[int, int]:
    """(total, trainable) parameters; a 4-bit weight counts its real elements, not its packed bytes."""
    total = sum(_elements(p) for p in model.parameters())
    trainable = sum(_elements(p) for p in model.parameters() if p.requires_grad)
    return total, trainable


def _elements(param) -> int:
    quant_state = getattr(param, "quant_state", None)  # bitsandbytes Params4bit: two weights per stored byte
    if quant_state is not None and getattr(quant_state, "shape", None) is not None:
        return int(quant_state.shape.numel())
    return param.numel()


# Dense bf16 peak FLOP/s of common training GPUs (vendor data sheets, without sparsity).
GPU_BF16_PEAK_FLOPS = {
    "H200": 989e12,
    "H100": 989e12,
    "A100": 312e12,
    "L40S": 362e12,
    "L4": 121e12,
    "A10": 125e12,
    "RTX 4090": 165e12,
    "RTX 3090": 71e12,
    "V100": 125e12,
    "T4": 65e12,
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
