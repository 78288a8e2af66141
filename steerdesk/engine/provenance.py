"""What a run needs to be rerun: the software, the files (with content hashes), where the SAE
read, and every steering strength in the unit given and in raw units. The CLI's JSON records
are made of these pieces (docs/json.md); they are plain dicts, for any front end."""

from __future__ import annotations

import platform
from importlib import metadata
from typing import Any

from steerdesk import __version__
from steerdesk.engine.fingerprint import content_sha256, file_sha256


def versions() -> dict[str, str | None]:
    """steerdesk's, Python's and the libraries' versions that decide the numbers."""
    def version(dist: str) -> str | None:
        try:
            return metadata.version(dist)
        except metadata.PackageNotFoundError:
            return None

    return {"steerdesk": __version__, "python": platform.python_version(),
            "torch": version("torch"), "transformers": version("transformers"),
            "safetensors": version("safetensors")}


def catalog_record(catalog) -> dict[str, Any] | None:
    """The catalog a run used: its folder, and the hash of its statistics file, where the max
    activations behind 'x max' strengths come from."""
    if catalog is None:
        return None
    stats = catalog.path / "stats.safetensors"
    return {"path": str(catalog.path),
            "stats_sha256": file_sha256(stats) if stats.is_file() else None}


def session_record(session) -> dict[str, Any]:
    """The model, the SAE (each with the hash of its files), the hook, device and dtype, and
    the catalog beside the SAE."""
    d = session.describe()
    sae = {k: v for k, v in d["sae"].items() if k not in ("hook", "hook_module", "has_catalog")}
    in_files = session.sae.cfg.extra.get("hook_in_files")
    return {
        "model": {**d["model"], "sha256": content_sha256(session.lm.path)},
        "sae": {**sae, "sha256": content_sha256(session.sae_path) if session.sae_path else None},
        "hook": {"name": session.hook.name, "module": session.hook.description,
                 "in_files": in_files or session.hook.name},
        "catalog": catalog_record(session.catalog),
    }


def steering_record(spec, session) -> dict[str, Any]:
    """One steered variant: its unit, and per feature the strength in it and the raw strength
    applied (for 'x max': strength x the max activation, recorded with the catalog)."""
    from steerdesk.engine.steering import raw_strength

    max_acts = session.max_acts if spec.unit == "max" else None
    features = []
    for f in spec.features:
        peak = float(max_acts[f.index]) if max_acts is not None and f.mode != "ablate" else None
        features.append({"index": f.index, "label": f.label or session.label_of(f.index),
                         "mode": f.mode, "strength": f.strength,
                         "raw_strength": raw_strength(f, spec.unit, session.max_acts),
                         "max_activation": peak})
    # A vector's strength is in x typical; raw_norm is the length of what it adds.
    vectors = [{"strength": v.strength, "raw_norm": abs(v.strength) * v.vector.typical,
                "vector": v.vector.to_json()} for v in spec.vectors]
    return {"unit": spec.unit,
            "catalog": catalog_record(session.catalog) if spec.unit == "max" else None,
            "features": features, "vectors": vectors}
