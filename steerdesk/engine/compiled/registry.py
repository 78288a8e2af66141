"""Which compiled decoder serves a generation, and the decoders kept per model.

A generation's shape is rounded up to capacities, so that most changes reuse a decoder that
is already compiled: rows to 1, 2, 5, 8, 16, ... (or `settings.rows` when the app fixes it),
clamp slots and watched features to multiples of `settings.clamp_slots` / `watch_slots`, and
the cache to a power of two of at least 256 positions. What still compiles a new step: more
rows than the bucket, the first clamp or ablate of a session, turning the readout on or
changing its k, and a longer prompt + continuation than the cache.
"""

from __future__ import annotations

import threading
import weakref
from collections import OrderedDict
from dataclasses import dataclass

from steerdesk.engine.compiled.buffers import Slots
from steerdesk.engine.compiled.decoder import DecodeShape, StaticDecoder
from steerdesk.engine.compiled.static_kv import MIN_LENGTH, length_for

ROW_BUCKETS = (1, 2, 5, 8, 16, 32, 64)


@dataclass
class CompileSettings:
    backend: str = "inductor"     # tests use "eager" or "aot_eager": same tracing, no codegen
    rows: int | None = None       # a fixed row capacity (e.g. 5 on a GPU, where rows are cheap)
    clamp_slots: int = 8
    watch_slots: int = 16
    min_length: int = MIN_LENGTH
    keep: int = 4                 # decoders (static caches) kept per model


settings = CompileSettings()


def _round_up(n: int, step: int) -> int:
    return 0 if n <= 0 else -(-n // step) * step


def row_capacity(rows: int) -> int:
    if settings.rows and settings.rows >= rows:
        return settings.rows
    for b in ROW_BUCKETS:
        if b >= rows:
            return b
    return _round_up(rows, ROW_BUCKETS[-1])


def shape_for(hook, tokens: int, window: int | None = None) -> DecodeShape:
    """The decode shape for a generation with this `SteeringHook` and `tokens` positions
    (prompt + new tokens). A step with variant rows always carries the hook, so a strength
    set to 0 reuses the same graph; with a fixed row capacity every step does, so that the
    baseline alone runs the same graph as side by side."""
    slots = Slots(rows=row_capacity(hook.rows),
                  clamp=_round_up(len(hook.clamp_features), settings.clamp_slots),
                  watch=_round_up(len(hook.watch), settings.watch_slots),
                  top_k=hook.top_k)
    length = length_for(tokens, settings.min_length)
    if window is not None and length > window >= tokens:
        length = window
    return DecodeShape(slots, length, hooked=hook.rows > 1 or hook.reads or bool(settings.rows))


_lock = threading.Lock()
_decoders: weakref.WeakKeyDictionary[object, OrderedDict[DecodeShape, StaticDecoder]] = \
    weakref.WeakKeyDictionary()


def decoder_for(session, shape: DecodeShape) -> StaticDecoder:
    """The model's decoder of this shape, made on first use; the least recently used beyond
    `settings.keep` are dropped (their compiled code stays in torch's caches)."""
    with _lock:
        per_model = _decoders.setdefault(session.model, OrderedDict())
        dec = per_model.get(shape)
        if dec is None or dec.point is not session.hook or dec.sae is not session.sae:
            dec = StaticDecoder(session, shape, backend=settings.backend)
            per_model[shape] = dec
        per_model.move_to_end(shape)
        while len(per_model) > max(settings.keep, 1):
            per_model.popitem(last=False)
        return dec


def decoders(session) -> list[StaticDecoder]:
    """The decoders kept for this session's model (for reports and tests)."""
    with _lock:
        return list(_decoders.get(session.model, {}).values())
