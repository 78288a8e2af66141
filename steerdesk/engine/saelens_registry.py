"""sae-lens's own registry of pretrained SAEs (`sae_lens/pretrained_saes.yaml`), read when
sae-lens is installed in the same environment. steerdesk never imports sae_lens (it pulls in
TransformerLens and more) and never depends on it: the file is found through the import
system's finder or the distribution's file list, and parsed with PyYAML when that is there.

Each release there has `repo_id`, `model`, `conversion_func` (the file layout), optional
`config_overrides` and `saes: [{id, path, l0, neuronpedia}]`. A release is pullable when its
layout is one steerdesk reads (FORMAT_FILES in gallery.py).
"""

from __future__ import annotations

import importlib.metadata
import importlib.util
import re
from functools import lru_cache
from pathlib import Path

from steerdesk.engine.gallery import Release, SAEFacts

FILE = "pretrained_saes.yaml"


def registry_path() -> Path | None:
    spec = importlib.util.find_spec("sae_lens")  # a top-level package: found, not imported
    for root in (spec.submodule_search_locations or []) if spec else []:
        if (Path(root) / FILE).is_file():
            return Path(root) / FILE
    try:
        located = Path(str(importlib.metadata.distribution("sae-lens")
                           .locate_file(f"sae_lens/{FILE}")))
    except importlib.metadata.PackageNotFoundError:
        return None
    return located if located.is_file() else None


def _layer(text: str) -> int | None:
    m = re.search(r"layer_(\d+)", text) or re.search(r"^l(\d+)r", text)
    return int(m.group(1)) if m else None


def _format_and_hook(conversion: str | None, repo: str, path: str) -> tuple[str | None, str | None, str]:
    """(steerdesk format, hook name or None = the files say, note when not pullable)."""
    layer = _layer(path)
    if conversion is None:
        return "saelens", None, ""
    if conversion == "gemma_2":
        if "-res" in repo and layer is not None:
            return "gemmascope", f"blocks.{layer}.hook_resid_post", ""
        if "-mlp" in repo and layer is not None:
            return "gemmascope", f"blocks.{layer}.hook_mlp_out", ""
        return None, None, "attention (hook_z) and embedding SAEs are not steerable here"
    if conversion == "gemma_3":
        site = path.split("/")[0]
        if site == "resid_post" and layer is not None:
            return "gemmascope2", f"blocks.{layer}.hook_resid_post", ""
        if site == "mlp_out" and layer is not None:
            return "gemmascope2", f"blocks.{layer}.hook_mlp_out", ""
        return None, None, "Gemma Scope 2 transcoders, crosscoders and attention SAEs are not read"
    if conversion == "llama_scope":
        return "llamascope", None, ""
    return None, None, f"its layout ({conversion}) is not one steerdesk reads"


def _release(name: str, d: dict) -> Release | None:
    if not isinstance(d, dict) or not isinstance(d.get("saes"), list) or not d.get("repo_id"):
        return None
    conversion = d.get("conversion_func")
    overrides = d.get("config_overrides") or {}
    kwargs = overrides.get("model_from_pretrained_kwargs") or {}
    saes, fmt, note = [], None, ""
    for s in d["saes"]:
        if not isinstance(s, dict) or "id" not in s or "path" not in s:
            continue
        f, hook, why = _format_and_hook(conversion, d["repo_id"], str(s["path"]))
        fmt, note = fmt or f, note or why
        np_id = s.get("neuronpedia")
        saes.append(SAEFacts(id=str(s["id"]), path=str(s["path"]), hook=hook,
                             l0=s.get("l0") or None,
                             neuronpedia=np_id.split("/", 1)[1] if isinstance(np_id, str) and "/" in np_id else None))
    np_model = next((s.get("neuronpedia").split("/")[0] for s in d["saes"]
                     if isinstance(s, dict) and isinstance(s.get("neuronpedia"), str)), None)
    return Release(name=name, repo=d["repo_id"], format=fmt, model=d.get("model"),
                   saes=tuple(saes), conversion=conversion, origin="sae-lens",
                   neuronpedia_model=np_model, note="" if fmt else note,
                   input_centring=bool(kwargs.get("center_writing_weights")))


@lru_cache(maxsize=1)
def _read(path: str, mtime: float) -> dict[str, Release]:
    try:
        import yaml
    except ImportError:
        return {}
    with open(path, encoding="utf-8") as f:
        data = yaml.load(f, Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader))
    out = {}
    for name, d in (data or {}).items():
        rel = _release(str(name), d)
        if rel is not None:
            out[rel.name] = rel
    return out


def registry_releases() -> dict[str, Release]:
    """Every release in sae-lens's registry, or {} when sae-lens (or PyYAML) is absent."""
    path = registry_path()
    if path is None:
        return {}
    try:
        return _read(str(path), path.stat().st_mtime)
    except Exception as exc:  # noqa: BLE001 - a broken registry file is only a shorter gallery
        import logging

        logging.getLogger(__name__).warning("cannot read sae-lens's registry %s: %s", path, exc)
        return {}
