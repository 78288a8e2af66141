"""Where settings live, and reading/writing them atomically.

STEERDESK_CONFIG_DIR overrides the folder (tests point it at a temp dir)."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from steerdesk.engine.presets import write_atomic

MAX_RECENT = 10


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


def load_settings() -> dict[str, Any]:
    """A damaged settings file must never stop the app from starting: it reads as empty."""
    try:
        data = json.loads(settings_path().read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def save_settings(data: dict[str, Any]) -> None:
    try:
        write_atomic(settings_path(), json.dumps(data, indent=2, ensure_ascii=False) + "\n")
    except OSError:
        pass  # a read-only config folder costs the user their settings, not their session


def remember_pair(data: dict[str, Any], pair: dict[str, Any]) -> None:
    """Put `pair` (model, sae, hook, device, dtype) first in the recent list, without repeats."""
    recent = [p for p in data.get("recent", []) if isinstance(p, dict)
              and (p.get("model"), p.get("sae")) != (pair.get("model"), pair.get("sae"))]
    data["recent"] = [pair] + recent[: MAX_RECENT - 1]
