"""Load an SAE from any supported format into one `SAE` class.

One module per format (`fmt_*.py`), each declaring its name, title, detection and loader as
`FORMAT = SAEFormat(...)`; registry.py finds them and says how to add one. `load_sae` asks
them in order and uses the first that recognises the path.
"""

from __future__ import annotations

from pathlib import Path

from steerdesk.engine.errors import InputError
from steerdesk.engine.sae import registry
from steerdesk.engine.sae.base import SAE, SAEConfig


def detect_format(path: Path) -> str | None:
    """The name of the first format whose layout `path` has, or None."""
    found = registry.detect(Path(path))
    return found.name if found else None


def load_sae(path: str | Path, *, allow_pickle: bool = False, hook: str | None = None,
             fmt: str | None = None) -> SAE:
    """Read the SAE at `path`. `hook` picks one hookpoint in multi-hookpoint folders and fills
    in the hook name when the files carry none. Raises InputError for anything wrong."""
    path = Path(path).expanduser()
    if not path.exists():
        raise InputError(f"{path}: no such file or folder", field="sae")
    found = registry.by_name(fmt) if fmt else registry.detect(path)
    if found is None:
        raise registry.not_recognised(path)
    sae = found.load(path, allow_pickle=allow_pickle, hook=hook)
    if hook:
        if sae.cfg.hook_name and sae.cfg.hook_name != hook:
            sae.cfg.extra["hook_in_files"] = sae.cfg.hook_name   # for a warning: see attach_sae
        sae.cfg.hook_name = hook
    return sae


__all__ = ["SAE", "SAEConfig", "detect_format", "load_sae", "registry"]
