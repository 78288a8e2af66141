"""Checking numbers that come from users (flags, dialogs, presets, settings): one sentence that
names the value and what it must be, as an InputError with the field it belongs to."""

from __future__ import annotations

import math
from typing import Callable

from steerdesk.engine.errors import InputError


def check_whole(name: str, value, lo: int, hi: int | None = None, *, field: str | None = None,
                expected: str | None = None) -> int:
    """`value` as an int from `lo` to `hi` (None: no upper end); bools are not numbers here."""
    if isinstance(value, int) and not isinstance(value, bool) and lo <= value and (
            hi is None or value <= hi):
        return value
    expected = expected or (f"a whole number from {lo} to {hi:,}" if hi is not None
                            else f"a whole number, {lo} or more")
    raise InputError(f"{name} {value!r}: must be {expected}", field=field)


def check_number(name: str, value, expected: str, ok: Callable[[float], bool] = lambda x: True,
                 *, field: str | None = None) -> float:
    """`value` as a finite float for which `ok` holds (`expected` says what that means)."""
    finite = (isinstance(value, (int, float)) and not isinstance(value, bool)
              and math.isfinite(value))
    if finite and ok(value):
        return float(value)
    sep = ", " if expected else ""
    raise InputError(f"{name} {value!r}: must be "
                     f"{'' if finite else 'a finite number' + sep}{expected}", field=field)
