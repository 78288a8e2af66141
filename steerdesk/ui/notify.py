"""A Qt-free signal: plain Python state (the steering panel) tells its views it changed,
so the state can be built and tested without Qt."""

from __future__ import annotations

from collections.abc import Callable


class Notifier:
    """`connect(fn)`, then `emit(*args)` calls every connected fn in order (as a Qt signal
    with a direct connection would). psygnal does this and more; this is all the panel needs."""

    def __init__(self) -> None:
        self._slots: list[Callable] = []

    def connect(self, slot: Callable) -> None:
        self._slots.append(slot)

    def disconnect(self, slot: Callable) -> None:
        self._slots.remove(slot)

    def emit(self, *args) -> None:
        for slot in list(self._slots):
            slot(*args)
