"""Choosing the device and dtype: auto means the best the machine has."""

from __future__ import annotations

import os

import torch

from steerdesk.engine.errors import InputError

DTYPES = {"float32": torch.float32, "fp32": torch.float32, "bfloat16": torch.bfloat16,
          "bf16": torch.bfloat16, "float16": torch.float16, "fp16": torch.float16}
_DEVICE_HINT = "pick another with --device (auto picks the best this machine has)"


def resolve_device(name: str | None = "auto") -> torch.device:
    name = (name or "auto").lower()
    if name == "auto":
        if torch.cuda.is_available():
            return torch.device("cuda")
        if getattr(torch.backends, "mps", None) and torch.backends.mps.is_available():
            return torch.device("mps")
        return torch.device("cpu")
    try:
        device = torch.device(name)
    except RuntimeError:
        raise InputError(f"device {name!r}: not a device name (try auto, cpu, cuda, cuda:1, mps)",
                         field="device", cli_hint=_DEVICE_HINT) from None
    if device.type == "cuda" and not torch.cuda.is_available():
        raise InputError(f"device {name!r}: this machine has no CUDA GPU that torch can use",
                         field="device", cli_hint=_DEVICE_HINT)
    if device.type == "mps" and not (getattr(torch.backends, "mps", None)
                                     and torch.backends.mps.is_available()):
        raise InputError(f"device {name!r}: MPS is not available on this machine",
                         field="device", cli_hint=_DEVICE_HINT)
    return device


def resolve_dtype(name: str | None, device: torch.device) -> torch.dtype:
    name = (name or "auto").lower()
    if name == "auto":
        # bf16 halves memory traffic on GPUs; CPUs are often slow at it, so fp32 there.
        return torch.float32 if device.type == "cpu" else torch.bfloat16
    if name not in DTYPES:
        raise InputError(f"dtype {name!r}: choose auto, {', '.join(sorted(DTYPES))}",
                         field="dtype", cli_hint="pass it with --dtype")
    return DTYPES[name]


def dtype_name(dtype: torch.dtype) -> str:
    return str(dtype).replace("torch.", "")


# torch's own choice (one thread per physical core), taken before anyone changes it.
TORCH_DEFAULT_THREADS = torch.get_num_threads()


def auto_threads() -> int:
    """CPU threads for a run on a machine others may be using: the cores that the last
    minute's load average leaves free, at least 1 and at most torch's default. On a busy
    machine threads that wait for a core slow every step (docs/benchmarks.md, "Threads")."""
    try:
        load = os.getloadavg()[0]
    except (OSError, AttributeError):   # Windows has no load average: torch's default
        return TORCH_DEFAULT_THREADS
    free = (os.cpu_count() or TORCH_DEFAULT_THREADS) - round(load)
    return max(1, min(TORCH_DEFAULT_THREADS, free))
