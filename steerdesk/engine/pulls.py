"""Pulling a gallery entry or `RELEASE:SAE_ID` (the SAE and its model) into the Hugging Face
cache, and finding it there again offline: the one place where such a name becomes the model
folder, the SAE folder, its hook and how its input is prepared."""

from __future__ import annotations

import json
import threading
from dataclasses import dataclass
from pathlib import Path

from steerdesk.engine import downloads
from steerdesk.engine.errors import InputError
from steerdesk.engine.gallery import (MODEL_PATTERNS, Gallery, ModelFacts, Release, SAEFacts,
                                      load_gallery, parse_name)


@dataclass
class Target:
    """What a name stands for."""
    name: str                    # RELEASE:SAE_ID
    release: Release
    sae: SAEFacts
    model: ModelFacts | None


@dataclass
class Resolved:
    """A pulled SAE and its model, as local folders."""
    target: Target
    model_path: Path | None
    sae_path: Path
    hook: str | None
    input_centring: bool


def target(name: str, gallery: Gallery | None = None) -> Target:
    gallery = gallery or load_gallery()
    release, sae = gallery.lookup(name)
    return Target(f"{release.name}:{sae.id}", release, sae, gallery.model_of(release))


def requests_for(t: Target, *, with_model: bool = True) -> list[downloads.RepoRequest]:
    if not t.release.pullable:
        raise InputError(f"{t.name}: steerdesk cannot read this release's files"
                         + (f" ({t.release.note})" if t.release.note else ""), field="sae")
    required, optional = t.release.files(t.sae)
    reqs = [downloads.RepoRequest(t.release.repo, tuple(required + optional), folder=t.sae.path,
                                  required=tuple(required), what=f"the SAE {t.name}")]
    if with_model and t.model is not None:
        reqs.insert(0, downloads.RepoRequest(t.model.repo, MODEL_PATTERNS, required=("config.json",),
                                             recursive=False, what=f"the model {t.model.repo}"))
    return reqs


def plan(name: str, *, with_model: bool = True) -> tuple[Target, downloads.Plan]:
    t = target(name)
    return t, downloads.plan_pull(requests_for(t, with_model=with_model))


def pull(name: str, progress: downloads.ProgressFn | None = None,
         cancel: threading.Event | None = None, *, with_model: bool = True) -> Resolved:
    """Download what `name` needs (nothing that is already cached) and return it resolved."""
    t, p = plan(name, with_model=with_model)
    downloads.run_pull(p, progress, cancel)
    return resolve(t.name)


# ---- offline --------------------------------------------------------------------------------
def _snapshot(repo_id: str) -> Path | None:
    folder = downloads.repo_folder(repo_id)
    try:
        commit = (folder / "refs" / "main").read_text(encoding="utf-8").strip()
    except OSError:
        return None
    snap = folder / "snapshots" / commit
    return snap if snap.is_dir() else None


def model_folder(repo_id: str) -> Path | None:
    """The cached snapshot of a model repo when its config and every weight file are there."""
    snap = _snapshot(repo_id)
    if snap is None or not (snap / "config.json").is_file():
        return None
    index = snap / "model.safetensors.index.json"
    if index.is_file():
        try:
            shards = set(json.loads(index.read_text(encoding="utf-8"))["weight_map"].values())
        except (OSError, ValueError, KeyError, TypeError):
            return None
        return snap if all((snap / s).is_file() for s in shards) else None
    return snap if any(snap.glob("*.safetensors")) or (snap / "pytorch_model.bin").is_file() else None


def sae_folder(t: Target) -> Path | None:
    snap = _snapshot(t.release.repo)
    if snap is None:
        return None
    folder = snap / t.sae.path
    required, _ = t.release.files(t.sae)
    return folder if required and all((folder / r).is_file() for r in required) else None


def status(t: Target) -> dict[str, bool]:
    return {"model": t.model is None or model_folder(t.model.repo) is not None,
            "sae": sae_folder(t) is not None}


def resolve(name: str) -> Resolved:
    """`name` (a gallery model or RELEASE:SAE_ID) as local folders, from the cache only."""
    t = target(name)
    sae = sae_folder(t)
    hint = f"download it first: steerdesk models pull {t.name}"
    if sae is None:
        raise InputError(f"{t.name}: the SAE is not downloaded yet", field="sae", cli_hint=hint)
    model = model_folder(t.model.repo) if t.model is not None else None
    if t.model is not None and model is None:
        raise InputError(f"{t.name}: its model {t.model.repo} is not downloaded yet", field="model",
                         cli_hint=hint)
    return Resolved(t, model, sae, t.sae.hook, t.release.input_centring)


def looks_like_name(value: str | None) -> bool:
    """True for RELEASE:SAE_ID and gallery model names that are not also existing paths."""
    if not value or Path(value).expanduser().exists():
        return False
    return parse_name(value) is not None or load_gallery(with_registry=False).entry(value) is not None


def target_for_path(sae_path: str | Path) -> Target | None:
    """The gallery's facts for an SAE folder inside the Hugging Face cache
    (`models--ORG--NAME/snapshots/REV/PATH`), so that an SAE opened by its path is fed the same
    activations as one opened by name."""
    parts = Path(sae_path).expanduser().absolute().parts
    for i, part in enumerate(parts[:-2]):
        if part.startswith("models--") and parts[i + 1] == "snapshots" and len(parts) > i + 3:
            repo = part[len("models--"):].replace("--", "/", 1)
            sub = "/".join(parts[i + 3:])
            gallery = load_gallery()
            for rel in gallery.releases.values():
                if rel.repo == repo:
                    sae = next((s for s in rel.saes if s.path.strip("/") == sub), None)
                    if sae is not None:
                        return Target(f"{rel.name}:{sae.id}", rel, sae, gallery.model_of(rel))
    return None


def resolve_for_open(model: str | Path | None, sae: str | Path, hook: str | None
                     ) -> tuple[str | Path, str | Path, str | None, Target | None]:
    """What `open_session` opens when the SAE is given by name (RELEASE:SAE_ID or a gallery
    model): the cached folders, the hook, and the gallery's facts; a path passes through, with
    the facts when it lies in the cache. An empty `model` means the SAE's own model."""
    if looks_like_name(str(sae)):
        r = resolve(str(sae))
        if not model:
            if r.model_path is None:
                raise InputError(f"{r.target.name}: the gallery does not know its model; name it",
                                 field="model", cli_hint="pass --model")
            model = r.model_path
        return model, r.sae_path, hook or r.hook, r.target
    return model, sae, hook, target_for_path(sae)
