"""A loaded model + SAE + hook point: what the CLI, the GUI and the benchmarks work with."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

import torch

from steerdesk.engine.catalog.store import Catalog, open_catalog_for
from steerdesk.engine.errors import InputError
from steerdesk.engine.hooks import HookPoint, hooked_width, no_hook_error, resolve_hook
from steerdesk.engine.models import LoadedModel, Progress, load_model
from steerdesk.engine.sae import SAE, load_sae


@dataclass
class Session:
    lm: LoadedModel
    sae: SAE
    hook: HookPoint
    sae_path: Path | None = None
    max_acts: torch.Tensor | None = None   # per feature, from the catalog, on the CPU
    catalog: Catalog | None = None         # the catalog beside the SAE, when one exists
    notes: list[str] = field(default_factory=list)   # things the user should hear about

    @property
    def model(self):
        return self.lm.model

    @property
    def tokenizer(self):
        return self.lm.tokenizer

    def label_of(self, index: int) -> str | None:
        """Feature `index`'s label from the catalog; None where there is none."""
        return (self.catalog.label(index) or None) if self.catalog is not None else None

    def describe(self) -> dict[str, Any]:
        c = self.sae.cfg
        return {"model": self.lm.describe(),
                "sae": {"path": str(self.sae_path) if self.sae_path else None,
                        "format": c.source_format, "architecture": c.architecture,
                        "d_in": c.d_in, "d_sae": c.d_sae, "k": c.k, "hook": self.hook.name,
                        "input": c.normalize_activations,
                        "hook_module": self.hook.description,
                        "has_catalog": self.catalog is not None}}


def apply_input_centring(sae: SAE, name: str) -> None:
    """The SAE was trained on TransformerLens's centre_writing_weights model, whose residual
    stream is this model's minus its mean over d_model (docs/real-models.md): encode that."""
    if sae.cfg.normalize_activations not in ("none", "centre"):
        raise InputError(f"{name}: its registry entry asks for a centred residual stream, and its "
                         f"files also ask for {sae.cfg.normalize_activations!r}; steerdesk "
                         "cannot do both")
    sae.cfg.normalize_activations = "centre"


def attach_sae(lm: LoadedModel, sae: SAE, *, hook: str | None = None,
               sae_path: Path | None = None) -> Session:
    """Check that `sae` fits `lm` at its hook point, move it to the model's device and dtype."""
    name = hook or sae.cfg.hook_name
    if not name:
        raise no_hook_error(str(sae_path or "SAE"))
    point = resolve_hook(lm.model, name)
    width = hooked_width(lm.model, point)
    if width != sae.d_in:
        raise InputError(f"{sae_path or 'SAE'}: its input width d_in={sae.d_in} does not match "
                         f"the activation at {name} ({point.description}), which is {width} wide; "
                         "is this SAE for another model?", field="sae")
    sae.cfg.hook_name = name
    notes = _hook_notes(lm, sae, point, sae_path)
    # A split model's hooked block may sit on another device than the embeddings.
    dev = next(point.module.parameters(), torch.empty(0, device=lm.device)).device
    sae.to(device=dev if lm.split else lm.device, dtype=lm.dtype)
    return Session(lm=lm, sae=sae, hook=point, sae_path=sae_path, notes=notes)


def _hook_notes(lm: LoadedModel, sae: SAE, point: HookPoint, sae_path: Path | None) -> list[str]:
    """A sentence when the hook asked for is another place than the one the SAE's files name
    (two names of one place, such as layers.3 and blocks.3.hook_resid_post, are the same)."""
    own = sae.cfg.extra.get("hook_in_files")
    if not own or own == point.name:
        return []
    try:
        theirs = resolve_hook(lm.model, own)
    except InputError:
        theirs = None
    if theirs is not None and theirs.module is point.module and theirs.side == point.side:
        return []
    return [f"{sae_path or 'the SAE'}: its files say it reads {own}; it reads {point.name} "
            f"({point.description}), as asked"]


def open_session(model: str | Path, sae: str | Path, *, hook: str | None = None,
                 device: str | None = "auto", dtype: str | None = "auto",
                 allow_pickle: bool = False, trust_remote_code: bool = False,
                 progress: Progress | None = None) -> Session:
    """Load a model and an SAE and join them. The SAE is read first: it is the cheaper of the
    two to find wrong."""
    from steerdesk.engine.pulls import resolve_for_open

    report: Callable[[float, str], None] = progress or (lambda f, m: None)
    model, sae, hook, facts = resolve_for_open(model, sae, hook)  # RELEASE:SAE_ID -> the cache
    report(0.0, f"Reading the SAE {sae}")
    loaded_sae = load_sae(sae, allow_pickle=allow_pickle, hook=hook)
    if facts is not None and facts.release.input_centring:
        apply_input_centring(loaded_sae, facts.name)
    lm = load_model(model, device=device, dtype=dtype, trust_remote_code=trust_remote_code,
                    progress=lambda f, m: report(0.05 + 0.85 * f, m))
    report(0.92, "Checking the SAE against the model")
    session = attach_sae(lm, loaded_sae, hook=hook, sae_path=Path(sae))
    report(0.96, "Reading the feature catalog")
    _attach_catalog(session)
    report(1.0, "Ready")
    return session


def _attach_catalog(session: Session) -> None:
    """The catalog beside the SAE gives labels and max activations (for 'x max' strengths)."""
    found = open_catalog_for(session.sae_path, session.sae.d_sae)
    if found is not None:
        session.catalog = found
        session.max_acts = found.max_activations()
