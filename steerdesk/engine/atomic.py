"""Writing files the user would hate to lose: to a temp file beside the target, then renamed
over it, so a crash leaves the old file or the new one, never half of one.

A process killed mid-write (kill -9, power loss) leaves its temp file behind; the next save of
the same file removes such leftovers. A full disk or a read-only folder is an InputError that
names the file, and the old file is untouched."""

from __future__ import annotations

import contextlib
import json
import os
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

# A temp file this old cannot belong to a save still running (saves take milliseconds to
# seconds); younger ones might be another process's save in progress, so they are left alone.
STALE_SECONDS = 600


def _temp_prefix(path: Path) -> str:
    return f".{path.name}."


def remove_stale_temps(path: Path, *, older_than: float = STALE_SECONDS) -> int:
    """Remove temp files an interrupted save of `path` left beside it. Returns how many."""
    removed = 0
    now = time.time()
    try:
        candidates = list(path.parent.glob(f"{_temp_prefix(path)}*.tmp"))
    except OSError:
        return 0
    for tmp in candidates:
        with contextlib.suppress(OSError):
            if now - tmp.stat().st_mtime >= older_than:
                tmp.unlink()
                removed += 1
    return removed


@contextlib.contextmanager
def atomic_path(path: str | Path) -> Iterator[str]:
    """A temp path to write to; on success it replaces `path`, on error it is removed."""
    from steerdesk.engine.userfiles import os_problem

    path = Path(path)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        remove_stale_temps(path)
        fd, tmp = tempfile.mkstemp(prefix=_temp_prefix(path), suffix=".tmp", dir=path.parent)
        os.close(fd)
    except OSError as exc:
        raise os_problem(path, exc) from None
    umask = os.umask(0)
    os.umask(umask)
    try:
        yield tmp
        # mkstemp makes files private (0600); saved presets and catalogs are meant to be shared
        # and shipped, so give them the permissions of any file the user writes.
        os.chmod(tmp, 0o666 & ~umask)
        os.replace(tmp, path)
    except BaseException as exc:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        if isinstance(exc, OSError):
            raise os_problem(path, exc) from None
        raise


def write_bytes(path: str | Path, data: bytes) -> None:
    with atomic_path(path) as tmp, open(tmp, "wb") as fh:
        fh.write(data)
        fh.flush()
        os.fsync(fh.fileno())


def write_text(path: str | Path, text: str) -> None:
    write_bytes(path, text.encode("utf-8"))


def write_json(path: str | Path, data: Any, indent: int | None = None) -> None:
    write_bytes(path, json.dumps(data, ensure_ascii=False, indent=indent).encode("utf-8"))


def save_npy(path: str | Path, array) -> None:
    import numpy as np

    with atomic_path(path) as tmp, open(tmp, "wb") as fh:
        np.save(fh, np.ascontiguousarray(array), allow_pickle=False)


def save_safetensors(path: str | Path, tensors: dict, metadata: dict | None = None) -> None:
    from safetensors.torch import save_file

    with atomic_path(path) as tmp:
        save_file({k: v.detach().cpu().contiguous() for k, v in tensors.items()}, tmp,
                  metadata=metadata)
