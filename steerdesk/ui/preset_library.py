"""Which presets the app offers, and whether one fits the open SAE. The Steering menu, the
load dialog and `steerdesk --preset` all go through here (via the controller). No Qt."""

from __future__ import annotations

from pathlib import Path

from steerdesk.engine import pack
from steerdesk.engine.errors import InputError
from steerdesk.engine.presets import Preset
from steerdesk.ui import config


def preset_folders(sae_path: Path | None) -> list[tuple[str, Path]]:
    """(menu section title, folder), in menu order: the open pack's presets (the pocket
    pack's while nothing is open), then the user's own."""
    folders = []
    beside = pack.presets_beside(sae_path)
    if beside is not None:
        folders.append(("Presets of this pack", beside))
    elif sae_path is None and pack.pocket_presets().is_dir():
        folders.append(("Pocket pack presets", pack.pocket_presets()))
    folders.append(("My presets", config.user_presets_dir()))
    return folders


def check_preset(preset: Preset, d_sae: int, has_catalog: bool, d_model: int | None = None
                 ) -> None:
    """A preset must fit the open SAE: its features exist, 'x max' needs a catalog, and its
    steering vectors are as wide as the activation they are added to (`d_model`)."""
    for f in preset.features:
        if f.index >= d_sae:
            raise InputError(f"preset {preset.name!r}: feature {f.index} does not exist in this "
                             f"SAE (it has {d_sae} features); is the preset for another SAE?")
    for v in preset.vectors if d_model is not None else ():
        v.vector.fit_notes(d_model, "", "", where=f"preset {preset.name!r}: steering vector "
                                                  f"{v.vector.name!r}")
    if preset.unit == "max" and not has_catalog:
        raise InputError(f"preset {preset.name!r} uses strengths in x max activation, which "
                         "needs this SAE's catalog; build one with steerdesk catalog build")
