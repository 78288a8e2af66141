"""The worker thread's tasks: order, streaming, errors, stop and cancel. The functions here
block on events the test sets, so nothing depends on how fast the machine is."""

import threading

import pytest

from steerdesk.engine.errors import InputError
from steerdesk.ui.worker import EngineWorker, TaskSlot

WAIT_MS = 10000
_RELEASES: list[threading.Event] = []   # every blocker's release, set when a test ends


@pytest.fixture
def worker(qapp):
    w = EngineWorker()
    w.start()
    yield w
    # A failed test may leave a blocker waiting: release it, so the thread ends and Qt does
    # not abort the whole run destroying a running thread.
    for release in _RELEASES:
        release.set()
    _RELEASES.clear()
    w.stop()


def blocker():
    """A task function that runs until released, and says when it has started."""
    started, release = threading.Event(), threading.Event()
    _RELEASES.append(release)

    def fn(task):
        started.set()
        release.wait(WAIT_MS / 1000)
        return "blocker done"
    return fn, started, release


def test_tasks_run_in_order_and_stream_to_their_own_callbacks(worker, qtbot):
    seen = []

    def counting(name, n):
        def fn(task):
            for i in range(n):
                task.emit((name, i))
            task.report_progress(1.0, f"{name} finished")
            return name.upper()
        return fn

    a = worker.submit(counting("a", 3), on_event=lambda p: seen.append(("event", p)),
                      on_progress=lambda f, m: seen.append(("progress", f, m)),
                      on_done=lambda r: seen.append(("done", r)))
    b = worker.submit(counting("b", 2), on_event=lambda p: seen.append(("b event", p)))
    with qtbot.waitSignal(b.done, timeout=WAIT_MS) as done:
        pass
    assert done.args == ["B"]
    assert seen == [("event", ("a", 0)), ("event", ("a", 1)), ("event", ("a", 2)),
                    ("progress", 1.0, "a finished"), ("done", "A"),
                    ("b event", ("b", 0)), ("b event", ("b", 1))]
    assert (a.state, b.state) == ("done", "done") and not a.pending


def test_a_cancelled_queued_task_never_runs_nor_calls_back(worker, qtbot):
    fn, started, release = blocker()
    first = worker.submit(fn)
    assert started.wait(WAIT_MS / 1000)
    ran, calls = [], []
    queued = worker.submit(lambda task: ran.append(1) or "never",
                           on_event=calls.append, on_done=calls.append,
                           on_error=lambda e, tb: calls.append(e),
                           on_progress=lambda f, m: calls.append(m))
    queued.cancel()
    assert queued.state == "cancelled" and not queued.pending
    last = worker.submit(lambda task: "after")
    release.set()
    with qtbot.waitSignal(last.done, timeout=WAIT_MS):
        pass
    # The worker is serial: had the cancelled task run or reported, it would be before `last`.
    assert first.state == "done"
    assert ran == [] and calls == []
    assert queued.state == "cancelled"


def test_a_cancelled_running_task_stops_and_reports_nothing_more(worker, qtbot):
    started, go_on = threading.Event(), threading.Event()
    stopped_early = []

    def fn(task):
        task.emit("before")
        started.set()
        go_on.wait(WAIT_MS / 1000)
        stopped_early.append(task.cancelled)
        task.emit("after")
        return "result"

    calls = []
    task = worker.submit(fn, on_event=calls.append, on_done=lambda r: calls.append(("done", r)))
    assert started.wait(WAIT_MS / 1000)
    qtbot.waitUntil(lambda: calls == ["before"], timeout=WAIT_MS)
    task.cancel()
    go_on.set()
    last = worker.submit(lambda t: None)
    with qtbot.waitSignal(last.done, timeout=WAIT_MS):
        pass
    assert stopped_early == [True]         # the function saw the request to stop
    assert calls == ["before"]             # 'after' and the result were dropped


def test_a_stopped_task_still_reports(worker, qtbot):
    def fn(task):
        n = 0
        while not task.cancelled and n < 1000:   # bounded: a stop that fails must not hang
            n += 1
            task.emit(n)
            if n == 3:
                task.stop()                # as the GUI would, once it has seen enough
        return f"stopped after {n}"

    events = []
    task = worker.submit(fn, on_event=events.append)
    with qtbot.waitSignal(task.done, timeout=WAIT_MS) as done:
        pass
    assert done.args == ["stopped after 3"] and events == [1, 2, 3]


@pytest.mark.parametrize("exc", [RuntimeError("boom"), InputError("bad input")])
def test_a_task_that_raises_reaches_its_error_callback(worker, qtbot, exc, capfd):
    def fn(task):
        raise exc

    done = []
    task = worker.submit(fn, on_done=done.append)
    with qtbot.waitSignal(task.error, timeout=WAIT_MS) as err:
        pass
    raised, tb = err.args
    assert raised is exc and "raise exc" in tb
    assert task.state == "failed" and done == []
    # The worker lives on: the next task runs.
    after = worker.submit(lambda t: "fine")
    with qtbot.waitSignal(after.done, timeout=WAIT_MS):
        pass
    # A bug's traceback goes to the terminal; the user's own mistake does not.
    printed = capfd.readouterr().err
    assert ("raise exc" in printed) == (not isinstance(exc, InputError))


def test_a_slot_keeps_only_the_latest_task(worker, qtbot):
    fn, started, release = blocker()
    worker.submit(fn)
    assert started.wait(WAIT_MS / 1000)
    slot = TaskSlot(worker)
    results = []
    old = slot.submit(lambda t: "old", on_done=results.append)
    assert slot.busy()
    new = slot.submit(lambda t: "new", on_done=results.append)
    assert old.state == "cancelled" and slot.task is new
    release.set()
    with qtbot.waitSignal(new.done, timeout=WAIT_MS):
        pass
    assert results == ["new"] and not slot.busy()
    slot.stop()                             # nothing running: a no-op
    assert new.state == "done"


def test_stop_drops_queued_tasks(qapp):
    worker = EngineWorker()
    worker.start()
    started = threading.Event()

    def until_cancelled(task):
        started.set()
        while not task.cancel_event.wait(0.01):
            pass

    running = worker.submit(until_cancelled)
    assert started.wait(WAIT_MS / 1000)
    ran = []
    queued = worker.submit(lambda t: ran.append(1))
    worker.stop()          # drops the queue first, then cancels what runs
    assert worker.isFinished()
    assert ran == [] and queued.state == "cancelled" and running.state == "cancelled"


def test_gc_is_paused_for_a_compiled_run_and_comes_back_even_after_an_error():
    import gc

    from steerdesk.ui.worker import gc_paused

    assert gc.isenabled()
    with gc_paused():
        assert not gc.isenabled()
    assert gc.isenabled()
    with gc_paused(False):               # an eager run: collections go on
        assert gc.isenabled()
    try:
        with gc_paused():
            raise ValueError("the compile failed")
    except ValueError:
        pass
    assert gc.isenabled()
    gc.disable()                         # someone else paused it: left as it was
    try:
        with gc_paused():
            pass
        assert not gc.isenabled()
    finally:
        gc.enable()
