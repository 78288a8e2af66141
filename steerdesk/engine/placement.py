"""Where a model's weights go: all on the chosen device, or, when they do not fit on the GPU,
split by accelerate's `device_map="auto"` across the GPUs and CPU memory. A split model runs:
the layers in CPU memory are computed there (or streamed to the GPU each step), so tokens come
several times slower; `Placement.why` says so in words the app shows."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import torch

from steerdesk.engine.errors import InputError

HEADROOM = 1.2        # activations, the KV cache and CUDA's own memory on top of the weights
KEEP = 0.9            # of each device's free memory, what accelerate may fill
BYTES = {torch.float32: 4, torch.bfloat16: 2, torch.float16: 2}
STORED = {"float32": 4, "bfloat16": 2, "float16": 2}


@dataclass
class Placement:
    split: bool = False
    device_map: str | None = None
    max_memory: dict | None = None
    why: str = ""


def _gb(n: float) -> str:
    return f"{n / 1e9:.1f} GB"


def weights_bytes(folder: Path, dtype: torch.dtype) -> int:
    """The weights' size in memory at `dtype`: the checkpoint files, rescaled from the dtype
    they are stored in (config.json's torch_dtype / dtype)."""
    folder = Path(folder)
    files = list(folder.glob("*.safetensors")) or list(folder.glob("pytorch_model*.bin"))
    on_disk = sum(f.stat().st_size for f in files)
    try:
        cfg = json.loads((folder / "config.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        cfg = {}
    stored = STORED.get(str(cfg.get("torch_dtype") or cfg.get("dtype") or "float32"), 4)
    return int(on_disk * BYTES.get(dtype, 4) / stored)


def decide(need: int, device: torch.device, gpu_free: list[int], cpu_free: int) -> Placement:
    """All on `device` when `need` bytes (+ headroom) fit there; else split across every GPU's
    and the CPU's free memory; else a clear error."""
    if device.type != "cuda":
        return Placement()
    index = device.index or 0
    want = need * HEADROOM
    if want <= gpu_free[index]:
        return Placement()
    total = sum(gpu_free) * KEEP + cpu_free * KEEP
    if want > total:
        raise InputError(f"the model's weights need {_gb(need)} and this machine has "
                         f"{_gb(sum(gpu_free))} of free GPU memory and {_gb(cpu_free)} of free "
                         "RAM; choose a smaller model or dtype (bfloat16 halves float32)",
                         field="dtype")
    budget = {i: int(f * KEEP) for i, f in enumerate(gpu_free)}
    budget["cpu"] = int(cpu_free * KEEP)
    on_gpu = min(sum(gpu_free) * KEEP, want)
    why = (f"split: the weights need {_gb(need)} but cuda:{index} has {_gb(gpu_free[index])} free, "
           f"so about {_gb(on_gpu)} stay on the GPU and the rest runs from CPU memory; "
           "generation is several times slower, since those layers cross the PCIe bus every token")
    return Placement(split=True, device_map="auto", max_memory=budget, why=why)


def plan_placement(folder: Path, device: torch.device, dtype: torch.dtype) -> Placement:
    if device.type != "cuda":
        return Placement()
    import psutil  # comes with accelerate

    gpu_free = [torch.cuda.mem_get_info(i)[0] for i in range(torch.cuda.device_count())]
    return decide(weights_bytes(folder, dtype), device, gpu_free, psutil.virtual_memory().available)
