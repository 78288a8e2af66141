"""Issue 12 point 10: undo/redo keys wherever the focus is, a preset save that confirms itself,
and 'What lights up?' that changes only when asked."""

from PySide6.QtCore import Qt
from PySide6.QtGui import QTextCursor


def _keys(qtbot, widget, key, mods):
    widget.setFocus()
    qtbot.keyClick(widget, key, mods)


def test_undo_and_redo_keys_work_from_the_search_box(window, qtbot):
    w = window
    w.activateWindow()
    w.c.add_feature(3)
    w.c.add_feature(5)
    search = w.browser.search
    assert search.text() == ""
    _keys(qtbot, search, Qt.Key_Z, Qt.ControlModifier)
    assert w.c.panel.indices() == [3]
    _keys(qtbot, search, Qt.Key_Z, Qt.ControlModifier | Qt.ShiftModifier)
    assert w.c.panel.indices() == [3, 5]
    _keys(qtbot, search, Qt.Key_Z, Qt.ControlModifier)
    _keys(qtbot, search, Qt.Key_Y, Qt.ControlModifier)
    assert w.c.panel.indices() == [3, 5]


def test_a_text_box_with_its_own_typing_keeps_its_undo(window, qtbot):
    w = window
    w.activateWindow()
    w.c.add_feature(3)
    search = w.browser.search
    search.setFocus()
    qtbot.keyClicks(search, "ger")
    _keys(qtbot, search, Qt.Key_Z, Qt.ControlModifier)
    assert search.text() == "" and w.c.panel.indices() == [3]   # the typing, not the panel
    _keys(qtbot, search, Qt.Key_Z, Qt.ControlModifier)           # nothing left of its own
    assert w.c.panel.indices() == []


def test_selecting_text_leaves_what_lights_up_alone(window):
    w = window
    w.browser.set_lights_text("my own words")
    prompt = w.compare.prompt
    prompt.setPlainText("The weather today is")
    cursor = prompt.textCursor()
    cursor.select(QTextCursor.Document)
    prompt.setTextCursor(cursor)
    assert w.browser.text.toPlainText() == "my own words"


def test_saving_a_preset_confirms_itself(window, tmp_path, monkeypatch):
    from PySide6.QtWidgets import QFileDialog

    w = window
    w.c.add_feature(3)
    target = tmp_path / "mine.json"
    monkeypatch.setattr(QFileDialog, "getSaveFileName",
                        staticmethod(lambda *a, **k: (str(target), "")))
    w.menus.save_preset_dialog()
    assert target.is_file()
    status = w.status.status()
    assert status.startswith("Saved preset") and str(target) in status


def test_a_too_long_prompt_is_cut_with_a_note(window, qtbot):
    w = window
    w.compare.prompt.setPlainText(" ".join(["the weather today is fine and"] * 60))
    w.compare.max_tokens.setValue(6)
    with qtbot.waitSignal(w.generation_finished, timeout=20000) as blocker:
        w.generate()
    record = blocker.args[0]
    assert record.prompt_cut > 0 and record.rows[0].tokens
    w.redraw()
    note = w.compare.prompt_note
    assert note.isVisible() and f"first {record.prompt_cut:,} tokens were cut" in note.text()
    w.compare.prompt.setPlainText("The weather today is")
    with qtbot.waitSignal(w.generation_finished, timeout=20000):
        w.generate()
    w.redraw()
    assert not w.compare.prompt_note.isVisible()


def test_an_empty_prompt_says_what_it_generates_from(window, qtbot, dialogs):
    w = window
    w.compare.prompt.setPlainText("")
    w.compare.max_tokens.setValue(4)
    with qtbot.waitSignal(w.generation_finished, timeout=20000):
        w.generate()
    w.redraw()
    if w.c.session.tokenizer("")["input_ids"] == []:
        # a tokenizer with no start token: the engine's one-line error, as a dialog
        assert dialogs and "prompt is empty" in dialogs[-1][2]
    else:
        assert "start-of-text token" in w.compare.prompt_note.text()
        assert w.compare.prompt_note.isVisible()


def test_the_empty_prompt_note_wording():
    from steerdesk.ui import wording
    from steerdesk.ui.run_record import RunRecord

    record = RunRecord("  ", [], ["no steering"], ["baseline"])
    assert "start-of-text token" in wording.prompt_note(record)
    assert wording.prompt_note(RunRecord("Hi", [], ["no steering"], ["baseline"])) == ""


def test_closing_mid_run_cancels_it_and_waits_only_briefly(window, qtbot, monkeypatch):
    """The app exits within a second of closing: closing cancels the run in flight, waits at
    most CLOSE_WAIT_MS for the worker (a run stops within a token), and `steerdesk` then ends
    the process at once (cli/gui.exit_now) instead of Python's slow teardown."""
    from steerdesk.cli import gui
    from steerdesk.ui import main_window

    w = window
    w.compare.max_tokens.setValue(4000)
    w.compare.prompt.setPlainText("The")
    waits = []
    real_stop = w.c.worker.stop
    monkeypatch.setattr(w.c.worker, "stop", lambda ms=5000: (waits.append(ms), real_stop(ms)))
    w.generate()
    qtbot.waitUntil(lambda: w.c.run is not None and bool(w.c.run.rows[0].tokens), timeout=20000)
    assert w.c.is_generating()
    w.close()
    assert waits == [main_window.CLOSE_WAIT_MS] and main_window.CLOSE_WAIT_MS <= 300
    assert w.c.worker.isFinished()               # the run stopped within the wait
    exits = []
    monkeypatch.setattr(gui.os, "_exit", exits.append)
    assert gui.exit_now(0) == 0 and exits == [0]


def test_the_status_line_ends_a_text_that_does_not_fit_in_an_ellipsis(qtbot):
    from PySide6.QtWidgets import QStatusBar

    from steerdesk.ui.status_line import StatusLine

    bar = QStatusBar()
    qtbot.addWidget(bar)
    line = StatusLine(bar)
    text = "pocket pack · SAE 2,048 features after layer 2 · catalog · cpu float32"
    line.show_session(text)
    bar.resize(900, 30)
    bar.show()
    qtbot.waitExposed(bar)
    assert line.session.text() == text and line.session.full_text == text
    line.session.resize(120, line.session.height())
    shown = line.session.text()
    assert shown.endswith("…") and text.startswith(shown[:-1]) and len(shown) < len(text)
    assert line.session.toolTip() == text            # the whole line, on hover
