"""The gallery: known model + SAE pairs, from the data file in the package
(`resources/gallery/gallery.json`, whose `sources` say which facts were checked where), and,
when sae-lens is installed, every release of its registry (see saelens_registry).

Names follow SAELens: an SAE is `RELEASE:SAE_ID` (`gpt2-small-res-jb:blocks.8.hook_resid_pre`);
a gallery entry is named by its model (`gpt2-small`) and stands for its default SAE.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from functools import lru_cache
from importlib import resources
from typing import Any

from steerdesk.engine.errors import InputError

# Files each SAE format needs, relative to the SAE's folder ("?" = used when present).
FORMAT_FILES = {
    "saelens": ("cfg.json", "sae_weights.safetensors", "sparsity.safetensors?"),
    "gemmascope": ("params.npz",),
    "gemmascope2": ("params.safetensors", "config.json?"),
    "llamascope": ("hyperparams.json", "checkpoints/final.safetensors"),
}
# What a model needs from its repo (root files only).
MODEL_PATTERNS = ("config.json", "generation_config.json", "*.safetensors",
                  "model.safetensors.index.json", "tokenizer*", "special_tokens_map.json",
                  "added_tokens.json", "vocab.json", "merges.txt", "chat_template*")
DTYPE_BYTES = {"float32": 4, "bfloat16": 2, "float16": 2}


@dataclass(frozen=True)
class ModelFacts:
    key: str
    repo: str
    title: str = ""
    params: int | None = None
    stored_dtype: str | None = None
    download_bytes: int | None = None      # as listed on the hub; None = not checked
    licence: str | None = None
    gated: bool | None = None
    chat: bool = False

    def weights_bytes(self, dtype: str) -> int | None:
        """Memory for the weights alone at `dtype` (activations and the KV cache come on top)."""
        return self.params * DTYPE_BYTES[dtype] if self.params else None

    def download_estimate(self) -> int | None:
        if self.download_bytes:
            return self.download_bytes
        return self.weights_bytes(self.stored_dtype) if self.stored_dtype in DTYPE_BYTES else None


@dataclass(frozen=True)
class SAEFacts:
    id: str
    path: str
    hook: str | None = None
    width: int | None = None
    l0: float | None = None
    neuronpedia: str | None = None         # the Neuronpedia source id, e.g. 8-res-jb


@dataclass(frozen=True)
class Release:
    name: str
    repo: str
    format: str | None                     # a steerdesk SAE format, None = steerdesk cannot read it
    model: str | None                      # a gallery model key or a hub repo id; None = unknown
    saes: tuple[SAEFacts, ...]
    title: str = ""
    d_in: int | None = None
    dtype: str | None = None
    licence: str | None = None
    gated: bool | None = None
    neuronpedia_model: str | None = None
    input_centring: bool = False           # trained on a centre_writing_weights model
    conversion: str | None = None          # sae-lens's conversion_func
    origin: str = "gallery"                # or "sae-lens"
    note: str = ""                         # why it cannot be pulled, when it cannot

    @property
    def pullable(self) -> bool:
        return self.format in FORMAT_FILES

    def sae(self, sae_id: str) -> SAEFacts:
        for s in self.saes:
            if s.id == sae_id:
                return s
        near = ", ".join(s.id for s in self.saes[:4])
        raise InputError(f"{self.name}: no SAE {sae_id!r} in this release (it has "
                         f"{len(self.saes)}, e.g. {near})", field="sae")

    def files(self, sae: SAEFacts) -> tuple[list[str], list[str]]:
        """(required, optional) file names relative to the SAE's folder."""
        names = FORMAT_FILES.get(self.format or "", ())
        return ([n for n in names if not n.endswith("?")], [n[:-1] for n in names if n.endswith("?")])

    def sae_bytes(self, sae: SAEFacts) -> int | None:
        """The SAE's weights on disk, from its shapes (two d_in x width matrices)."""
        if not (self.d_in and sae.width):
            return None
        per = DTYPE_BYTES.get(self.dtype or "float32", 4)
        return (2 * self.d_in * sae.width + 3 * sae.width + self.d_in) * per


@dataclass(frozen=True)
class Entry:
    name: str
    release: str
    sae: str
    good_for: str = ""


@dataclass
class Gallery:
    entries: list[Entry]
    models: dict[str, ModelFacts]
    releases: dict[str, Release]
    sources: dict[str, str] = field(default_factory=dict)

    def entry(self, name: str) -> Entry | None:
        return next((e for e in self.entries if e.name == name), None)

    def model_of(self, release: Release) -> ModelFacts | None:
        if release.model is None:
            return None
        if release.model in self.models:
            return self.models[release.model]
        known = next((m for m in self.models.values() if m.repo == release.model), None)
        return known or (ModelFacts(key=release.model, repo=release.model, title=release.model)
                         if "/" in release.model else None)

    def lookup(self, name: str) -> tuple[Release, SAEFacts]:
        """A gallery model name or RELEASE:SAE_ID -> its release and SAE."""
        entry = self.entry(name)
        if entry is not None:
            rel = self.releases[entry.release]
            return rel, rel.sae(entry.sae)
        parsed = parse_name(name)
        if parsed is None:
            raise InputError(f"{name!r}: not a gallery model ({', '.join(e.name for e in self.entries)})"
                             " and not RELEASE:SAE_ID", field="sae",
                             cli_hint="see `steerdesk models list --all`")
        release, sae_id = parsed
        rel = self.releases.get(release)
        if rel is None:
            raise InputError(f"{release!r}: no such SAE release in the gallery"
                             + ("" if any(r.origin == "sae-lens" for r in self.releases.values())
                                else " (install sae-lens to see all of its releases)"),
                             field="sae", cli_hint="see `steerdesk models list --all`")
        return rel, rel.sae(sae_id)


def parse_name(name: str) -> tuple[str, str] | None:
    """`RELEASE:SAE_ID` -> (release, sae_id); anything else (a path, C:\\x) -> None."""
    release, sep, sae_id = str(name).partition(":")
    if not sep or not release or not sae_id or "/" in release or "\\" in release or len(release) < 2:
        return None
    return release, sae_id


def _release(name: str, d: dict[str, Any], origin: str) -> Release:
    saes = tuple(SAEFacts(**{k: s.get(k) for k in SAEFacts.__dataclass_fields__ if k in s})
                 for s in d["saes"])
    keep = {k: d[k] for k in Release.__dataclass_fields__ if k in d and k not in ("saes", "name")}
    return Release(name=name, saes=saes, origin=origin, **keep)


@lru_cache(maxsize=1)
def _curated() -> Gallery:
    data = json.loads(resources.files("steerdesk").joinpath("resources/gallery/gallery.json")
                      .read_text(encoding="utf-8"))
    models = {k: ModelFacts(key=k, **v) for k, v in data["models"].items()}
    releases = {k: _release(k, v, "gallery") for k, v in data["releases"].items()}
    entries = [Entry(**e) for e in data["entries"]]
    return Gallery(entries, models, releases, data.get("sources", {}))


def load_gallery(*, with_registry: bool = True) -> Gallery:
    """The curated gallery, plus sae-lens's registry releases when it is installed (curated
    entries win: their facts were checked)."""
    cur = _curated()
    releases = dict(cur.releases)
    if with_registry:
        from steerdesk.engine.saelens_registry import registry_releases

        for name, rel in registry_releases().items():
            releases.setdefault(name, rel)
    return Gallery(list(cur.entries), dict(cur.models), releases, dict(cur.sources))
