"""Load an SAE from any supported format into one `SAE` class.

One module per format; each has `detect(path) -> bool` and `load(path, *, allow_pickle,
hook) -> SAE`. `load_sae` asks them in order and uses the first that recognises the path.
"""

from __future__ import annotations

import importlib
from pathlib import Path

from steerdesk.engine.errors import InputError
from steerdesk.engine.sae.base import SAE, SAEConfig

# Order matters only where layouts could overlap: the most specific layouts first.
FORMATS = ("saelens", "llamascope", "gemmascope", "gemmascope2", "sparsify", "dictionary_learning",
           "openai")
FORMAT_TITLES = {
    "saelens": "SAELens folder (cfg.json + sae_weights.safetensors)",
    "llamascope": "Llama Scope (hyperparams.json + checkpoints/final.safetensors)",
    "gemmascope": "Gemma Scope (params.npz)",
    "gemmascope2": "Gemma Scope 2 (params.safetensors with w_enc/w_dec/threshold [+ config.json])",
    "sparsify": "EleutherAI sparsify (cfg.json + sae.safetensors, one folder per hookpoint)",
    "dictionary_learning": "dictionary_learning (ae.pt + config.json)",
    "openai": "OpenAI sparse_autoencoder (.pt state dict)",
}


def _module(fmt: str):
    return importlib.import_module(f"steerdesk.engine.sae.fmt_{fmt}")


def detect_format(path: Path) -> str | None:
    for fmt in FORMATS:
        if _module(fmt).detect(path):
            return fmt
    return None


def load_sae(path: str | Path, *, allow_pickle: bool = False, hook: str | None = None,
             fmt: str | None = None) -> SAE:
    """Read the SAE at `path`. `hook` picks one hookpoint in multi-hookpoint folders and fills
    in the hook name when the files carry none. Raises InputError for anything wrong."""
    path = Path(path).expanduser()
    if not path.exists():
        raise InputError(f"{path}: no such file or folder")
    fmt = fmt or detect_format(path)
    if fmt is None:
        raise InputError(
            f"{path}: not a recognised SAE. steerdesk reads: " + "; ".join(FORMAT_TITLES.values()))
    if fmt not in FORMATS:
        raise InputError(f"unknown SAE format {fmt!r}; known: {', '.join(FORMATS)}")
    sae = _module(fmt).load(path, allow_pickle=allow_pickle, hook=hook)
    if hook:
        sae.cfg.hook_name = hook
    return sae


__all__ = ["SAE", "SAEConfig", "FORMATS", "load_sae", "detect_format"]
