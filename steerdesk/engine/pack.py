"""The pocket pack shipped inside the package: a small trained model, its SAE, catalog and
presets, so that steerdesk works offline the moment it is installed."""

from __future__ import annotations

from pathlib import Path

RESOURCES = Path(__file__).resolve().parent.parent / "resources"
POCKET = RESOURCES / "pocket"


def pocket_model() -> Path:
    return POCKET / "model"


def pocket_sae() -> Path:
    return POCKET / "sae"


def pocket_presets() -> Path:
    return POCKET / "presets"


def pocket_available() -> bool:
    return (pocket_model() / "config.json").is_file() and (pocket_sae() / "cfg.json").is_file()


def presets_beside(sae_path: Path | None) -> Path | None:
    """A pack's presets folder: `presets/` next to the SAE folder (as in the pocket pack)."""
    if sae_path is None:
        return None
    folder = Path(sae_path).parent / "presets"
    return folder if folder.is_dir() else None
