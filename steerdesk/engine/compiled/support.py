"""Whether the compiled decode path can run here, where torch keeps what it compiled, and
whether it is on by default.

torch.compile needs a C++ compiler on the CPU (inductor writes and builds C++ kernels) and
Triton on a CUDA GPU; on other devices (MPS, XPU) steerdesk keeps to the eager path. What
inductor builds is cached on disk (its FX graph cache and AOTAutograd cache), under steerdesk's
user cache folder unless TORCHINDUCTOR_CACHE_DIR says otherwise, so the second run of the same
shapes skips the C++ or Triton build (tracing the model still takes seconds).
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import torch

CACHE_ENV = "TORCHINDUCTOR_CACHE_DIR"


def _torch_default_cache_dir() -> str | None:
    try:
        from torch._inductor.runtime.cache_dir_utils import default_cache_dir
    except ImportError:
        return None
    return default_cache_dir()


def inductor_cache_dir() -> Path:
    """Where inductor keeps its caches: TORCHINDUCTOR_CACHE_DIR when the user set it, else
    <user cache>/steerdesk/torch-inductor (set here, before steerdesk's first compile; torch
    writes its own default, a folder under /tmp, into the variable the first time it looks,
    so that value counts as unset)."""
    current = os.environ.get(CACHE_ENV)
    if not current or current == _torch_default_cache_dir():
        from platformdirs import user_cache_dir

        os.environ[CACHE_ENV] = str(Path(user_cache_dir("steerdesk")) / "torch-inductor")
    return Path(os.environ[CACHE_ENV])


def _cpp_compiler() -> str | None:
    try:
        from torch._inductor import config

        name = config.cpp.cxx[-1] if isinstance(config.cpp.cxx, tuple) else config.cpp.cxx
    except (ImportError, AttributeError, IndexError, TypeError):
        name = None
    for candidate in (os.environ.get("CXX"), name, "g++", "clang++", "c++", "cl"):
        if candidate and shutil.which(candidate):
            return candidate
    return None


def unavailable_reason(device: torch.device | str) -> str | None:
    """None where torch.compile can build the decode step on `device`, else why not, in one line."""
    device = torch.device(device)
    if not hasattr(torch, "compile"):
        return f"torch {torch.__version__} has no torch.compile"
    try:
        from transformers.cache_utils import Cache, StaticLayer  # noqa: F401
    except ImportError:
        import transformers

        return (f"transformers {transformers.__version__} has no per-layer static cache "
                "(StaticLayer); the compiled path needs transformers 5")
    if not hasattr(StaticLayer(max_cache_len=1), "cumulative_length"):
        import transformers

        return (f"transformers {transformers.__version__}'s static cache needs explicit cache "
                "positions; the compiled path needs transformers 5")
    if device.type == "cpu":
        if _cpp_compiler() is None:
            return "no C++ compiler found (torch.compile builds C++ kernels on the CPU; install g++)"
        return None
    if device.type == "cuda":
        try:
            from torch.utils._triton import has_triton
        except ImportError:
            return "this torch build cannot tell whether Triton is installed"
        if not has_triton():
            return "Triton is not installed (torch.compile needs it on a CUDA GPU)"
        return None
    return f"torch.compile is not used on {device.type} devices (only CPU and CUDA)"


def compile_mode(device: torch.device | str) -> str | None:
    """CUDA graphs on a GPU (replaying a step costs one launch); inductor's default elsewhere."""
    return "reduce-overhead" if torch.device(device).type == "cuda" else None


def on_by_default(device: torch.device | str) -> tuple[bool, str]:
    """Whether a request that does not say gets the compiled path, and why (docs/benchmarks.md
    has the measurements)."""
    device = torch.device(device)
    if device.type == "cpu":
        return False, ("off by default on the CPU: compiling a shape (seconds to minutes) "
                       "costs more than it saves in a generation of usual length "
                       "(docs/benchmarks.md)")
    if device.type == "cuda":
        return False, ("off by default on GPUs until it has been measured on one "
                       "(benchmarks/gpu_decode.py)")
    return False, f"not available on {device.type}"
