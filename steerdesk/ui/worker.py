"""The one thread that touches the model. Jobs run one at a time, in order.

A job is a plain function `fn(job)` run on the worker thread; it may call `job.emit(payload)`
to stream partial results and should check `job.cancelled` between units of work (as in
Orange's concurrent tasks). Results come back to the GUI thread as queued signals tagged with
the job id, so the GUI can drop what a cancelled job still sends.
"""

from __future__ import annotations

import itertools
import queue
import threading
import traceback
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from PySide6.QtCore import QThread, Signal

_ids = itertools.count(1)
_still_running: list[EngineWorker] = []


@dataclass
class Job:
    kind: str
    fn: Callable[[Job], Any]
    id: int = field(default_factory=lambda: next(_ids))
    cancel_event: threading.Event = field(default_factory=threading.Event)
    worker: EngineWorker | None = None

    @property
    def cancelled(self) -> bool:
        return self.cancel_event.is_set()

    def cancel(self) -> None:
        self.cancel_event.set()

    def emit(self, payload: Any) -> None:
        if self.worker is not None:
            self.worker.job_event.emit(self.id, self.kind, payload)


class EngineWorker(QThread):
    job_started = Signal(int, str)
    job_event = Signal(int, str, object)        # id, kind, payload
    job_done = Signal(int, str, object)         # id, kind, result
    job_failed = Signal(int, str, object, str)  # id, kind, exception, traceback text

    def __init__(self, parent=None):
        super().__init__(parent)
        self._queue: queue.Queue[Job | None] = queue.Queue()
        self._current: Job | None = None
        self._lock = threading.Lock()

    def submit(self, kind: str, fn: Callable[[Job], Any]) -> Job:
        job = Job(kind, fn, worker=self)
        self._queue.put(job)
        return job

    def cancel_kind(self, kind: str) -> None:
        """Cancel the running job and drop the queued ones of this kind."""
        with self._lock:
            if self._current is not None and self._current.kind == kind:
                self._current.cancel()
        kept = []
        while True:
            try:
                job = self._queue.get_nowait()
            except queue.Empty:
                break
            if job is not None and job.kind == kind:
                job.cancel()
            kept.append(job)
        for job in kept:
            self._queue.put(job)

    def busy(self) -> bool:
        return self._current is not None or not self._queue.empty()

    def stop(self, timeout_ms: int = 5000) -> None:
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

    def run(self) -> None:
        _leave_a_core_for_the_gui()
        self._loop()

    def _loop(self) -> None:
        while True:
            job = self._queue.get()
            if job is None:
                return
            if job.cancelled:
                self.job_done.emit(job.id, job.kind, None)
                continue
            with self._lock:
                self._current = job
            self.job_started.emit(job.id, job.kind)
            try:
                result = job.fn(job)
            except BaseException as exc:  # noqa: BLE001 - reported to the GUI, never fatal
                self.job_failed.emit(job.id, job.kind, exc, traceback.format_exc())
            else:
                self.job_done.emit(job.id, job.kind, result)
            finally:
                with self._lock:
                    self._current = None


def _leave_a_core_for_the_gui() -> None:
    """torch uses every core by default; on small machines that starves the GUI thread and,
    through contention, slows the model too. One core fewer costs little on big machines.
    (torch's intra-op thread count is per calling thread, so this touches the worker only.)"""
    import os

    import torch

    cores = os.cpu_count() or 1
    if torch.get_num_threads() >= cores:
        torch.set_num_threads(max(1, cores - 1))
