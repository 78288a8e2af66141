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
