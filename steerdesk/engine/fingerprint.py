"""Content hashes of the files a run read, so that its record can tell whether a later rerun
reads the same weights.

A file's SHA-256 is kept in a small cache keyed by its resolved path, size and modification
time, so a multi-gigabyte model is read once, and hashing it again costs one `stat`. A folder's
hash covers the files that can change what a model or SAE computes (weights, configs,
tokenizers), by their relative names, and leaves out what steerdesk writes beside an SAE (its
catalog and presets) and documentation."""

from __future__ import annotations

import hashlib
import json
import os
import threading
from pathlib import Path

from steerdesk.engine import atomic
from steerdesk.engine.errors import InputError

# What can change the numbers; README.md and the like cannot.
HASHED_SUFFIXES = (".safetensors", ".bin", ".pt", ".pth", ".ckpt", ".npz", ".npy", ".gguf",
                   ".json", ".txt", ".model", ".tiktoken", ".py")
# Folders steerdesk keeps beside an SAE: not part of its weights.
SKIPPED_FOLDERS = ("catalog", "presets")
_CHUNK = 1 << 20
_KEEP = 10_000   # cache entries
_lock = threading.Lock()


def cache_file() -> Path:
    from platformdirs import user_cache_dir

    return Path(os.environ.get("STEERDESK_CACHE") or user_cache_dir("steerdesk")) / "hashes.json"


def _read_cache(path: Path) -> dict[str, str]:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError, RecursionError):
        return {}   # a missing or damaged cache only costs a rehash
    return {k: v for k, v in data.items() if isinstance(k, str) and isinstance(v, str)} \
        if isinstance(data, dict) else {}


def file_sha256(path: str | Path) -> str:
    """The SHA-256 of one file's bytes (hex), from the cache when the file has not changed."""
    p = Path(path).expanduser().resolve()
    try:
        st = p.stat()
    except OSError as exc:
        raise InputError(f"{p}: cannot be read to hash it ({exc.strerror or exc})") from None
    key = f"{p}|{st.st_size}|{st.st_mtime_ns}"
    cache_path = cache_file()
    with _lock:
        cached = _read_cache(cache_path).get(key)
    if cached:
        return cached
    digest = hashlib.sha256()
    try:
        with open(p, "rb") as fh:
            while chunk := fh.read(_CHUNK):
                digest.update(chunk)
    except OSError as exc:
        raise InputError(f"{p}: cannot be read to hash it ({exc.strerror or exc})") from None
    value = digest.hexdigest()
    with _lock:
        cache = _read_cache(cache_path)
        cache[key] = value
        for old in list(cache)[: max(0, len(cache) - _KEEP)]:   # the oldest entries go first
            del cache[old]
        try:
            atomic.write_text(cache_path, json.dumps(cache))
        except OSError:
            pass   # a read-only cache folder: the hash is still right, only not remembered
    return value


def hashed_files(path: str | Path) -> list[Path]:
    """The files whose bytes make up a model or SAE at `path` (a file, or a folder's files)."""
    p = Path(path).expanduser()
    if p.is_file():
        return [p]
    found = []
    for root, dirs, files in os.walk(p, followlinks=True):
        dirs[:] = sorted(d for d in dirs if not d.startswith(".")
                         and not (Path(root) == p and d in SKIPPED_FOLDERS))
        found += [Path(root) / f for f in sorted(files)
                  if not f.startswith(".") and f.endswith(HASHED_SUFFIXES)]
    return found


def content_sha256(path: str | Path) -> str:
    """One hash for a file or a folder: the SHA-256 of its files' relative names and hashes."""
    p = Path(path).expanduser()
    if p.is_file():
        return file_sha256(p)
    if not p.is_dir():
        raise InputError(f"{p}: no such file or folder to hash")
    lines = [f"{f.relative_to(p).as_posix()}\t{file_sha256(f)}" for f in hashed_files(p)]
    return hashlib.sha256("\n".join(lines).encode("utf-8")).hexdigest()
