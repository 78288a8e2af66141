"""Help holds a short guide in plain words and the shortcuts that really work (issue 12 p. 9)."""

from PySide6.QtGui import QKeySequence

from steerdesk.ui.guide import GuideDialog, shortcut_rows


def test_guide_explains_the_words_a_newcomer_meets(window):
    dialog = GuideDialog(window)
    text = dialog.text.toPlainText()
    for phrase in ("What is a feature?", "add", "clamp", "ablate", 'What "2x max" means',
                   "in %", "Presentation mode", "Keyboard shortcuts"):
        assert phrase in text, phrase


def test_shortcut_list_is_the_windows_own(window):
    rows = dict(shortcut_rows(window))
    native = lambda k: QKeySequence(k).toString(QKeySequence.NativeText)  # noqa: E731
    assert native("Ctrl+Return") in rows["Generate"]
    assert native("F11") in rows["Presentation mode"]
    assert native("Ctrl+Z") == rows["Undo"]
    assert native("Ctrl+Shift+Z") in rows["Redo"] and native("Ctrl+Y") in rows["Redo"]
    # every listed key really triggers its action: each comes from an action on the window
    by_text = {a.text().replace("&", "").rstrip("…").strip(): a for a in window.actions()}
    for text, keys in rows.items():
        assert keys.split(" or ")[0] == by_text[text].shortcuts()[0].toString(
            QKeySequence.NativeText)


def test_help_menu_offers_guide_and_shortcuts(window):
    help_menu = next(a.menu() for a in window.menuBar().actions() if a.text() == "&Help")
    texts = [a.text() for a in help_menu.actions()]
    assert "&Guide: steering in plain words" in texts and "&Keyboard shortcuts" in texts
