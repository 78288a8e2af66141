"""Help holds a short guide in plain words and the shortcuts that really work (issue 12 p. 9)."""

from PySide6.QtGui import QKeySequence

from steerdesk.ui.guide import GuideDialog, action_name, shortcut_rows


def test_guide_explains_the_words_a_newcomer_meets(window):
    dialog = GuideDialog(window)
    text = dialog.text.toPlainText()
    for phrase in ("What is a feature?", "add", "clamp", "ablate", 'What "2x max" means',
                   "in %", "Presentation mode", "Keyboard shortcuts", "Add a rule",
                   "When", "then", "for", "wavy underline", "Tools > Classifier from examples",
                   "Steering > Steering vector from examples", "Compare with prompting",
                   "Fluency cost", "Reach vs fluency"):
        assert phrase in text, phrase


def test_shortcut_list_is_the_windows_own(window):
    rows = dict(shortcut_rows(window))
    native = lambda k: QKeySequence(k).toString(QKeySequence.NativeText)  # noqa: E731
    assert native("Ctrl+Return") in rows["Generate"]
    assert native("F11") in rows["Presentation mode"]
    assert native("Ctrl+Z") == rows["Undo"]
    assert native("Ctrl+Shift+Z") in rows["Redo"] and native("Ctrl+Y") in rows["Redo"]
    # every listed key really triggers its action: each comes from an action on the window
    by_text = {action_name(a): a for a in window.actions()}
    for text, keys in rows.items():
        assert keys.split(" or ")[0] == by_text[text].shortcuts()[0].toString(
            QKeySequence.NativeText)


def test_help_menu_offers_guide_and_shortcuts(window):
    help_menu = next(a.menu() for a in window.menuBar().actions() if a.text() == "&Help")
    texts = [a.text() for a in help_menu.actions()]
    assert "&Guide: steering in plain words" in texts and "&Keyboard shortcuts" in texts


def test_undo_and_redo_are_listed_by_their_fixed_names(window):
    """Undo's text follows the undo stack ("Undo set strength of ..."): the list shows the
    action's own name, which is what the menu and the keys do."""
    window.c.editor.add(3, "", 1.0)
    window.c.editor.set(window.c.panel.rows[-1].uid, "strength", 2.0)
    undo = next(a for a in window.actions() if a.property("fixed_name") == "Undo")
    assert undo.text() == "&Undo set strength of feature 3"   # the stack named it
    rows = dict(shortcut_rows(window))
    assert "Undo" in rows and "Redo" in rows
    assert not any(t.startswith(("Undo ", "Redo ")) for t in rows)
    assert "Undo" in GuideDialog(window).text.toPlainText()
