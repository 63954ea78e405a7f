"""Memory that measures the backend: the exact bytes of the model state (weights as stored, gradients,
optimizer state), and the training and generation peaks apart from what the libraries and the scorer hold.

Model-state bytes are counted from the tensors themselves, so they are the same on a CPU and a GPU for
the same model and backend; the peaks depend on the device and are recorded beside them.
"""

from __future__ import annotations

from pathlib import Path

MB = 2**20
_PROC_STATUS = Path("/proc/self/status")
_PROC_CLEAR_REFS = Path("/proc/self/clear_refs")


def tensor_bytes(tensors, seen: set | None = None) -> int:
    """Bytes of the distinct storages among `tensors`: a tied or shared weight counts once."""
    seen = set() if seen is None else seen
    total = 0
    for tensor in tensors:
        key = (tensor.device, tensor.untyped_storage().data_ptr())
        if tensor.numel() == 0 or key in seen:
            continue
        seen.add(key)
        total += tensor.untyped_storage().nbytes()
    return total


def quant_state_tensors(param) -> list:
    """A bitsandbytes 4-bit weight's quantization state: its absmax, code and offset, and with double
    quantization the absmax and code that the absmax itself was quantized with (quant_state.state2)."""
    state = getattr(param, "quant_state", None)
    found = []
    while state is not None:
        found += [t for t in (getattr(state, name, None) for name in ("absmax", "code", "offset")) if t is not None]
        state = getattr(state, "state2", None) if getattr(state, "nested", False) else None
    return found


def weights_bytes(model) -> int:
    """Every parameter as stored (a 4-bit weight at its packed size) plus the 4-bit quantization state."""
    seen: set = set()
    params = list(model.parameters())
    stored = tensor_bytes(params, seen)
    return stored + tensor_bytes([t for p in params for t in quant_state_tensors(p)], seen)


def gradients_bytes(model) -> int:
    """One gradient per distinct trainable parameter, in its dtype (autograd keeps a grad in its parameter's dtype)."""
    seen: set = set()
    total = 0
    for param in model.parameters():
        key = (param.device, param.untyped_storage().data_ptr())
        if param.requires_grad and key not in seen:
            seen.add(key)
            total += param.numel() * param.element_size()
    return total


def optimizer_bytes(optimizer) -> int:
    """Every tensor the optimizer keeps per parameter (Adam's two moments and its step counter)."""
    tensors = [
        value for state in optimizer.state.values() for value in state.values() if hasattr(value, "untyped_storage")
    ]
    return tensor_bytes(tensors)


def model_state_bytes(model, optimizer) -> dict[str, int]:
    """The metrics.json memory_*_bytes fields; optimizer state as allocated (after the first optimizer step).
    optimizer=None: a model that does not train (train=false) holds its weights alone."""
    counts = {
        "memory_weights_bytes": weights_bytes(model),
        "memory_gradients_bytes": 0 if optimizer is None else gradients_bytes(model),
        "memory_optimizer_bytes": 0 if optimizer is None else optimizer_bytes(optimizer),
    }
    return {**counts, "memory_model_state_bytes": sum(counts.values())}


def _status_kib(field: str) -> int | None:
    """A field of /proc/self/status in KiB (Linux), or None where there is no such file."""
    try:
        for line in _PROC_STATUS.read_text().splitlines():
            if line.startswith(field + ":"):
                return int(line.split()[1])
    except OSError:
        return None
    return None


def resident_mb() -> float | None:
    kib = _status_kib("VmRSS")
    return None if kib is None else kib / 1024


def release_free_heap() -> bool:
    """Hand the heap's freed pages back to the kernel (glibc malloc_trim), so that the resident memory read next
    is what the process holds, not what it once held: after a base was pretrained in the same process, training
    steps reused its freed heap and seemed to add 1 MiB where the same steps in a fresh process added 80.
    False where there is no glibc."""
    import ctypes
    import ctypes.util

    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        libc.malloc_trim(0)
        return True
    except (OSError, AttributeError):
        return False


def reset_resident_peak() -> bool:
    """Reset this process's peak RSS (VmHWM) to its current RSS (Linux clear_refs 5); False where it cannot."""
    try:
        _PROC_CLEAR_REFS.write_text("5")
        return True
    except OSError:
        return False


def resident_peak_mb() -> float | None:
    kib = _status_kib("VmHWM")
    return None if kib is None else kib / 1024


class CudaPeaks:
    """CUDA max-allocated over chosen spans (training steps, generation) of a process whose lifetime peak
    (peak_memory_mb) must survive the resets those spans need: each reset first folds the peak so far in."""

    def __init__(self):
        self.folded = 0  # bytes: the highest peak read before a reset

    @staticmethod
    def available() -> bool:
        import torch

        return torch.cuda.is_available()

    def start_span(self) -> None:
        import torch

        self.folded = max(self.folded, torch.cuda.max_memory_allocated())
        torch.cuda.reset_peak_memory_stats()

    def span_peak_mb(self) -> float:
        """The peak since start_span (reading it needs no device synchronisation)."""
        import torch

        return torch.cuda.max_memory_allocated() / MB

    def lifetime_peak_mb(self) -> float:
        import torch

        return max(self.folded, torch.cuda.max_memory_allocated()) / MB

    def reset_lifetime(self) -> None:
        import torch

        self.folded = 0
        torch.cuda.reset_peak_memory_stats()


CUDA = CudaPeaks()  # one per process: the CUDA allocator's peak statistics are process-wide too


class GenerationPeak:
    """The CUDA peak over every dev and test generation of the run (None on a CPU)."""

    def __init__(self):
        self.mb: float | None = None

    def __enter__(self):
        if CUDA.available():
            CUDA.start_span()
        return self

    def __exit__(self, *exc):
        if CUDA.available():
            self.mb = max(self.mb or 0.0, CUDA.span_peak_mb())
        return False


GENERATION = GenerationPeak()


def reset_run_peaks() -> None:
    """At the start of a run: the lifetime and generation peaks count from here."""
    GENERATION.mb = None
    if CUDA.available():
        CUDA.reset_lifetime()
