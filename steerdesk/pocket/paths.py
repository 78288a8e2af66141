"""Where the pocket pipeline keeps its cache (never in git) and where the shipped pack goes."""

from __future__ import annotations

from pathlib import Path

_PACKAGE_DIR = Path(__file__).resolve().parent.parent  # .../steerdesk
_REPO_ROOT = _PACKAGE_DIR.parent


def cache_dir() -> Path:
    """`<repo>/.cache/pocket` in a source checkout (gitignored), else the user cache folder."""
    if (_REPO_ROOT / "pyproject.toml").is_file():
        return _REPO_ROOT / ".cache" / "pocket"
    from platformdirs import user_cache_dir

    return Path(user_cache_dir("steerdesk")) / "pocket"


def resources_dir() -> Path:
    """Package data shipped in the wheel: `steerdesk/resources/pocket`."""
    return _PACKAGE_DIR / "resources" / "pocket"


def model_dir() -> Path:
    return resources_dir() / "model"
