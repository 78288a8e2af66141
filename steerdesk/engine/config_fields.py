"""Typed reads of fields from parsed JSON: one line naming the file and the field when a value
has the wrong type or is out of range (configs written by other tools put numbers in strings,
booleans where numbers go, and so on)."""

from __future__ import annotations

import math
from typing import Any

from steerdesk.engine.errors import InputError

_MISSING = object()


def _where(where: str, key: str) -> str:
    return f"{where}: field {key!r}"


def _lookup(data: dict, key: str, default: Any) -> Any:
    value = data.get(key, _MISSING) if isinstance(data, dict) else _MISSING
    return default if value is _MISSING or value is None else value


def want_int(data: dict, key: str, where: str, *, default: Any = _MISSING,
             lo: int | None = None, hi: int | None = None) -> Any:
    """A whole number (a float like 16.0 is accepted as 16). `default` when absent or null."""
    value = _lookup(data, key, default)
    if value is _MISSING:
        raise InputError(f"{_where(where, key)} is missing")
    if value is default:
        return value
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise InputError(f"{_where(where, key)} must be a whole number, not {value!r:.40}")
    if isinstance(value, float):
        if not math.isfinite(value) or value != int(value):
            raise InputError(f"{_where(where, key)} must be a whole number, not {value!r}")
        value = int(value)
    if lo is not None and value < lo:
        raise InputError(f"{_where(where, key)} is {value}; it must be at least {lo}")
    if hi is not None and value > hi:
        raise InputError(f"{_where(where, key)} is {value}; it must be at most {hi}")
    return value
