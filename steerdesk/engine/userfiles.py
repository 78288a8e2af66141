"""Reading files the user gave us, so that every way a file can be wrong ends as one line.

Every reader in steerdesk (SAE formats, catalogs, presets, label imports, corpora, settings)
goes through these checks before it parses anything:

- the path is a regular file (a folder, a pipe or a device is named as such; opening a FIFO
  would block for ever, so it is never opened);
- it can be read (permission problems are named, not raised as PermissionError);
- it is not larger than the reader is prepared to hold in memory;
- JSON is strict: NaN / Infinity are refused (the JSON standard has no such numbers, and a NaN
  in a config would load silently and poison every activation), and absurd nesting is an error,
  not a RecursionError.
"""

from __future__ import annotations

import errno
import json
import os
import stat
from pathlib import Path
from typing import Any

from steerdesk.engine.errors import InputError

MB = 1024 * 1024
JSON_MAX_BYTES = 256 * MB      # label exports of 100k+ features are tens of MB
MAX_LINE = 240                 # longest library message we quote inside our own line


def one_line(exc: BaseException | str) -> str:
    """A library's message, cut to its first line and a readable length."""
    text = str(exc).strip().splitlines()[0].strip() if str(exc).strip() else type(exc).__name__
    return text if len(text) <= MAX_LINE else text[: MAX_LINE - 1] + "…"


def os_problem(path: Path | str, exc: OSError) -> InputError:
    """An OSError met while reading or writing `path`, said in one line."""
    code = getattr(exc, "errno", None)
    if isinstance(exc, PermissionError) or code in (errno.EACCES, errno.EPERM):
        why = "cannot be read or written: permission denied"
    elif code in (errno.ENOSPC, errno.EDQUOT):
        why = "could not be written: the disk is full (free some space and try again)"
    elif code == errno.EROFS:
        why = "could not be written: the file system is read-only"
    elif code == errno.EISDIR:
        why = "is a folder, not a file"
    elif code == errno.ENOENT:
        why = "no such file or folder"
    else:
        why = one_line(exc.strerror or exc)
    return InputError(f"{path}: {why}")


def check_file(path: Path | str, what: str = "file") -> Path:
    """`path` as a Path, if it is a regular file we may read. Never opens it."""
    path = Path(path)
    try:
        st = path.stat()
    except FileNotFoundError:
        raise InputError(f"{path}: {what} not found") from None
    except OSError as exc:
        raise os_problem(path, exc) from None
    if stat.S_ISDIR(st.st_mode):
        raise InputError(f"{path}: is a folder, where a {what} was expected")
    if not stat.S_ISREG(st.st_mode):
        raise InputError(f"{path}: is not a regular file (a pipe, socket or device), where a "
                         f"{what} was expected")
    if not os.access(path, os.R_OK):
        raise InputError(f"{path}: cannot be read: permission denied")
    return path


def is_regular_file(path: Path | str) -> bool:
    """Like Path.is_file, but False for anything that is not a plain file, and never raises."""
    try:
        return stat.S_ISREG(Path(path).stat().st_mode)
    except (OSError, ValueError):
        return False


def file_size(path: Path) -> int:
    try:
        return path.stat().st_size
    except OSError as exc:
        raise os_problem(path, exc) from None


def read_bytes(path: Path | str, *, max_bytes: int, what: str = "file") -> bytes:
    path = check_file(path, what)
    size = file_size(path)
    if size > max_bytes:
        raise InputError(f"{path}: is {size / MB:,.0f} MB, more than a {what} can sensibly be "
                         f"({max_bytes / MB:,.0f} MB)")
    try:
        with open(path, "rb") as fh:
            return fh.read(max_bytes + 1)
    except OSError as exc:
        raise os_problem(path, exc) from None


def read_text(path: Path | str, *, max_bytes: int = JSON_MAX_BYTES, what: str = "file") -> str:
    data = read_bytes(path, max_bytes=max_bytes, what=what)
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise InputError(f"{path}: is not UTF-8 text (byte {exc.start} is {data[exc.start]:#x})"
                         ) from None


def _no_constants(name: str):
    raise ValueError(f"{name} is not a JSON number")


def parse_json(text: str, where: str) -> Any:
    """Strict JSON: no NaN/Infinity, no RecursionError for absurd nesting."""
    try:
        return json.loads(text, parse_constant=_no_constants)
    except json.JSONDecodeError as exc:
        raise InputError(f"{where}: not valid JSON ({exc.msg} at line {exc.lineno} column "
                         f"{exc.colno})") from None
    except ValueError as exc:      # from parse_constant
        raise InputError(f"{where}: not valid JSON ({exc})") from None
    except RecursionError:
        raise InputError(f"{where}: not valid JSON (nested too deeply)") from None


def read_json_value(path: Path | str, *, max_bytes: int = JSON_MAX_BYTES,
                    what: str = "JSON file") -> Any:
    """Any JSON value from a file; every problem is one InputError naming the file."""
    return parse_json(read_text(path, max_bytes=max_bytes, what=what), str(path))


def read_json_object(path: Path | str, *, max_bytes: int = JSON_MAX_BYTES,
                     what: str = "JSON file") -> dict[str, Any]:
    data = read_json_value(path, max_bytes=max_bytes, what=what)
    if not isinstance(data, dict):
        raise InputError(f"{path}: expected a JSON object at the top level, found "
                         f"{type(data).__name__}")
    return data
