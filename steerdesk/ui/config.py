"""Where the app keeps its files: settings and the user's presets.

STEERDESK_CONFIG_DIR overrides the folder (tests point it at a temp dir)."""

from __future__ import annotations

import os
from pathlib import Path


def config_dir() -> Path:
    override = os.environ.get("STEERDESK_CONFIG_DIR")
    if override:
        return Path(override)
    from platformdirs import user_config_dir

    return Path(user_config_dir("steerdesk", appauthor=False))


def settings_path() -> Path:
    return config_dir() / "settings.json"


def user_presets_dir() -> Path:
    return config_dir() / "presets"
