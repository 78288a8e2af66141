"""Loading a causal language model and its tokenizer, from a folder or the local HF cache.

Nothing is ever downloaded: a hub id must already be in the local Hugging Face cache.
Code from a model's repository runs only when the caller passes trust_remote_code=True.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

import torch

from steerdesk.engine.device import dtype_name, resolve_device, resolve_dtype
from steerdesk.engine.errors import InputError, RemoteCodeRefused, one_line

Progress = Callable[[float, str], None]


@dataclass
class LoadedModel:
    model: Any  # a transformers PreTrainedModel in eval mode
    tokenizer: Any
    name: str
    path: Path
    device: torch.device
    dtype: torch.dtype
    placement: Any = None  # placement.Placement: split across GPU and CPU memory, and why

    @property
    def split(self) -> bool:
        return bool(self.placement is not None and self.placement.split)

    @property
    def d_model(self) -> int:
        return int(self.model.get_input_embeddings().weight.shape[1])

    def describe(self) -> dict[str, Any]:
        cfg = self.model.config
        return {"name": self.name, "path": str(self.path), "device": str(self.device),
                "dtype": dtype_name(self.dtype), "model_type": getattr(cfg, "model_type", None),
                "d_model": self.d_model,
                "parameters": sum(p.numel() for p in self.model.parameters()),
                "split": self.split, "placement": self.placement.why if self.split else ""}


def _no_progress(fraction: float, message: str) -> None:
    pass


def resolve_model_path(name_or_path: str | Path) -> Path:
    """A local folder, or the snapshot folder of a hub id already in the local HF cache."""
    path = Path(name_or_path).expanduser()
    if path.exists():
        if not path.is_dir() or not (path / "config.json").is_file():
            raise InputError(f"{path}: not a model folder (it has no config.json)")
        return path
    from huggingface_hub import snapshot_download

    try:
        return Path(snapshot_download(str(name_or_path), local_files_only=True))
    except Exception:  # noqa: BLE001 - hub raises several kinds for "not cached" / bad id
        raise InputError(
            f"model {str(name_or_path)!r}: not a folder, and not in the local Hugging Face cache. "
            "steerdesk never downloads at run time; fetch it first, e.g. "
            f"`huggingface-cli download {name_or_path}`") from None


def _check_remote_code(path: Path, trust_remote_code: bool) -> None:
    from steerdesk.engine.userfiles import read_json_object

    cfg = read_json_object(path / "config.json", what="model config")
    if trust_remote_code or "auto_map" not in cfg:
        return
    from transformers import CONFIG_MAPPING

    if cfg.get("model_type") not in CONFIG_MAPPING:
        raise RemoteCodeRefused(
            f"{path}: this model's architecture ({cfg.get('model_type')!r}) is defined by Python "
            "code in its own repository, which would run on your machine")


def load_model(name_or_path: str | Path, *, device: str | None = "auto", dtype: str | None = "auto",
               trust_remote_code: bool = False, progress: Progress | None = None) -> LoadedModel:
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from transformers.utils import logging as hf_logging

    hf_logging.disable_progress_bar()  # steerdesk reports progress itself
    # Rows of one prompt never need padding, so transformers' attention-mask advice is noise.
    hf_logging.set_verbosity_error()
    progress = progress or _no_progress
    progress(0.0, f"Finding {name_or_path}")
    path = resolve_model_path(name_or_path)
    _check_remote_code(path, trust_remote_code)
    dev = resolve_device(device)
    dt = resolve_dtype(dtype, dev)
    progress(0.1, "Reading the tokenizer")
    try:
        tokenizer = AutoTokenizer.from_pretrained(path, local_files_only=True,
                                                  trust_remote_code=trust_remote_code)
    except Exception as exc:  # noqa: BLE001
        raise InputError(f"{path}: could not load the tokenizer ({one_line(exc)})") from None
    from steerdesk.engine.placement import plan_placement

    place = plan_placement(path, dev, dt)
    split = {"device_map": place.device_map, "max_memory": place.max_memory} if place.split else {}
    progress(0.2, f"Reading the weights ({dtype_name(dt)}{', split across GPU and CPU' if split else ''})")
    try:
        model = AutoModelForCausalLM.from_pretrained(
            path, local_files_only=True, dtype=dt, trust_remote_code=trust_remote_code, **split)
    except (OSError, ValueError, RuntimeError, KeyError) as exc:
        raise InputError(f"{path}: could not load the model ({one_line(exc)})") from None
    if split:  # accelerate placed it; inputs go where the embeddings are
        dev = model.get_input_embeddings().weight.device
    else:
        progress(0.85, f"Moving the model to {dev}")
        model.to(dev)
    model.eval()
    model.requires_grad_(False)
    for p in model.parameters():
        if p.is_floating_point() and not torch.isfinite(p).all():
            raise InputError(f"{path}: the model's weights hold NaN or Inf values")
    progress(1.0, "Model ready")
    name = str(name_or_path) if not Path(str(name_or_path)).exists() else path.name
    return LoadedModel(model=model, tokenizer=tokenizer, name=name, path=path, device=dev, dtype=dt,
                       placement=place)


def cached_models() -> list[str]:
    """Hub ids of causal-LM-looking repos in the local Hugging Face cache (for pickers)."""
    try:
        from huggingface_hub import scan_cache_dir

        info = scan_cache_dir()
    except Exception:  # noqa: BLE001 - no cache folder is an empty list, not an error
        return []
    found = []
    for repo in info.repos:
        if repo.repo_type != "model":
            continue
        if any(f.file_name == "config.json" for rev in repo.revisions for f in rev.files):
            found.append(repo.repo_id)
    return sorted(found)
