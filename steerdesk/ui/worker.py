"""The one thread that touches the model. Jobs run one at a time, in the order submitted.

`submit(fn)` queues `fn(task)` and returns its `Task`: a handle with its own signals (event,
progress, done, error), all delivered on the GUI thread, in the manner of Orange's TaskState
and superqt's generator workers. On the worker, `fn` may stream partial results with
`task.emit(payload)` and `task.report_progress(fraction, message)`, and checks
`task.cancelled` between units of work.

Two ways to end a task early:
- `task.stop()` asks the function to finish now. It still reports: a generation ends with a
  'cancelled' DoneEvent and its done signal.
- `task.cancel()` stops it and forgets it: nothing more is delivered, and a queued task never
  runs. That is what replacing a task does (`TaskSlot`).
"""

from __future__ import annotations

import gc
import queue
import sys
import threading
import traceback
from collections.abc import Callable
from contextlib import contextmanager
from typing import Any

from PySide6.QtCore import QObject, Qt, QThread, Signal

from steerdesk.engine.errors import InputError

_still_running: list[EngineWorker] = []

QUEUED, RUNNING, DONE, FAILED, CANCELLED = "queued", "running", "done", "failed", "cancelled"


class Task(QObject):
    """One job on the model thread. Its signals fire on the GUI thread, never after cancel()."""

    event = Signal(object)           # a payload the function emitted
    progress = Signal(float, str)    # fraction done, what it is doing
    done = Signal(object)            # the function's return value
    error = Signal(object, str)      # the exception it raised, its traceback text

    def __init__(self, fn: Callable[[Task], Any], worker: EngineWorker):
        super().__init__()
        self.fn = fn
        self.state = QUEUED          # as the GUI thread sees it
        self._worker = worker
        self._stop = threading.Event()
        self._dropped = threading.Event()

    # -- on the worker thread ----------------------------------------------------------------
    @property
    def cancelled(self) -> bool:
        """Set by stop() or cancel(): the function should return soon."""
        return self._stop.is_set()

    @property
    def forgotten(self) -> bool:
        """Set by cancel(): nothing more it sends is delivered, so it need not work it out."""
        return self._dropped.is_set()

    @property
    def cancel_event(self) -> threading.Event:
        return self._stop

    def emit(self, payload: Any) -> None:
        self._worker._report.emit(self, "event", (payload,))

    def report_progress(self, fraction: float, message: str) -> None:
        self._worker._report.emit(self, "progress", (float(fraction), str(message)))

    # -- on the GUI thread -------------------------------------------------------------------
    @property
    def pending(self) -> bool:
        """Queued or running, and still wanted."""
        return self.state in (QUEUED, RUNNING)

    def stop(self) -> None:
        self._stop.set()

    def cancel(self) -> None:
        self._dropped.set()
        self._stop.set()
        if self.pending:
            self.state = CANCELLED

    def _deliver(self, what: str, args: tuple) -> None:
        if self.state == CANCELLED:
            return          # whatever it still sent after cancel() is dropped here
        if what == "started":
            self.state = RUNNING
        elif what == "event":
            self.event.emit(*args)
        elif what == "progress":
            self.progress.emit(*args)
        elif what == "done":
            self.state = DONE
            self.done.emit(*args)
        elif what == "error":
            self.state = FAILED
            exc, tb = args
            if not isinstance(exc, InputError):   # a bug, not the user's input: keep the trace
                print(tb, file=sys.stderr)
            self.error.emit(exc, tb)


class EngineWorker(QThread):
    _report = Signal(object, str, object)   # task, what, args: the hop to the GUI thread

    def __init__(self, parent=None):
        super().__init__(parent)
        self._queue: queue.Queue[Task | None] = queue.Queue()
        self._current: Task | None = None
        self._lock = threading.Lock()
        # This QThread object lives on the GUI thread, so queued reports run there.
        self._report.connect(self._on_report, Qt.QueuedConnection)

    def submit(self, fn: Callable[[Task], Any], *, on_event=None, on_progress=None,
               on_done=None, on_error=None) -> Task:
        """Queue `fn(task)`; the callbacks are connected before it can run."""
        task = Task(fn, self)
        for signal, slot in ((task.event, on_event), (task.progress, on_progress),
                             (task.done, on_done), (task.error, on_error)):
            if slot is not None:
                signal.connect(slot)
        self._queue.put(task)
        return task

    def stop(self, timeout_ms: int = 5000) -> None:
        """Cancel everything and end the thread."""
        while True:
            try:
                task = self._queue.get_nowait()
            except queue.Empty:
                break
            if task is not None:
                task.cancel()
        with self._lock:
            if self._current is not None:
                self._current.cancel()
        self._queue.put(None)
        if not self.wait(timeout_ms):
            # A model load cannot be interrupted. Destroying a running QThread aborts the
            # process, so keep this one referenced until it ends on its own.
            self.setParent(None)
            _still_running.append(self)
            self.finished.connect(lambda: _still_running.remove(self))

    def _on_report(self, task: Task, what: str, args: tuple) -> None:
        task._deliver(what, args)

    def run(self) -> None:
        _leave_a_core_for_the_gui()
        while True:
            task = self._queue.get()
            if task is None:
                return
            if task._dropped.is_set():
                continue        # cancelled while queued: it never runs and never reports
            with self._lock:
                self._current = task
            self._report.emit(task, "started", ())
            try:
                result = task.fn(task)
            except BaseException as exc:  # noqa: BLE001 - reported to the GUI, never fatal
                self._report.emit(task, "error", (exc, traceback.format_exc()))
            else:
                self._report.emit(task, "done", (result,))
            finally:
                with self._lock:
                    self._current = None


class TaskSlot:
    """The latest task of one sort (the model load, the run, 'what lights up'): submitting a
    new one cancels the one before, so only the latest ever reports."""

    def __init__(self, worker: EngineWorker):
        self.worker = worker
        self.task: Task | None = None

    def submit(self, fn: Callable[[Task], Any], **callbacks) -> Task:
        self.cancel()
        self.task = self.worker.submit(fn, **callbacks)
        return self.task

    def busy(self) -> bool:
        return self.task is not None and self.task.pending

    def stop(self) -> None:
        if self.busy():
            self.task.stop()

    def cancel(self) -> None:
        if self.task is not None:
            self.task.cancel()


def _leave_a_core_for_the_gui() -> None:
    """torch uses every core by default; on small machines that starves the GUI thread and,
    through contention, slows the model too. One core fewer costs little on big machines.
    (torch's intra-op thread count is per calling thread, so this touches the worker only.)"""
    import os

    import torch

    cores = os.cpu_count() or 1
    if torch.get_num_threads() >= cores:
        torch.set_num_threads(max(1, cores - 1))


@contextmanager
def gc_paused(pause: bool = True):
    """No garbage collection while the block runs on the model thread. torch.compile's tracing
    goes through PySide's import hook on this thread; a collection that the GUI thread started
    meanwhile (finalising Qt wrappers) deadlocked against it under Python 3.11: both threads
    waited on a lock forever (seen once in a clean CI run, in the compiled-decoding test). The
    block is a compile and one generation: the cycles it leaves are collected after."""
    was = gc.isenabled()
    if pause and was:
        gc.disable()
    try:
        yield
    finally:
        if pause and was:
            gc.enable()
