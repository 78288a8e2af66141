"""Feature catalogs: labels, max activations and evidence for an SAE's features."""

from __future__ import annotations

from pathlib import Path


def open_catalog_for(sae_path: Path | None, d_sae: int):
    """The catalog stored beside the SAE at `sae_path`, or None when there is none."""
    return None
