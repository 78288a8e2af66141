"""Undo and redo that work wherever the focus is.

A focused text box takes Ctrl+Z / Ctrl+Shift+Z for itself (Qt's ShortcutOverride), so after an
undo had moved the focus into the feature search box, the window's Redo never came. This
filter lets a text box keep the keys only while it has its own typing to undo or redo; else the
keys go on to the window's Edit > Undo / Redo, which undo steering-panel changes."""

from __future__ import annotations

from PySide6.QtCore import QEvent, QObject
from PySide6.QtGui import QKeySequence
from PySide6.QtWidgets import (
    QAbstractSpinBox,
    QApplication,
    QLineEdit,
    QPlainTextEdit,
    QTextEdit,
)


def _own_history(widget, redo: bool) -> bool | None:
    """Whether `widget` (a text box) has its own step to undo / redo; None: not a text box.
    A number box (a rule's value, a slider's number) is a text box inside."""
    if isinstance(widget, QAbstractSpinBox):
        widget = widget.lineEdit()
    if isinstance(widget, QLineEdit):
        return (widget.isRedoAvailable() if redo else widget.isUndoAvailable()) and \
            not widget.isReadOnly()
    if isinstance(widget, (QPlainTextEdit, QTextEdit)):
        doc = widget.document()
        return (doc.isRedoAvailable() if redo else doc.isUndoAvailable()) and \
            not widget.isReadOnly()
    return None


class UndoRouter(QObject):
    def __init__(self, parent=None):
        super().__init__(parent)
        self.undo_keys = [QKeySequence(k) for k in
                          QKeySequence.keyBindings(QKeySequence.StandardKey.Undo)]
        self.redo_keys = [QKeySequence(k) for k in
                          QKeySequence.keyBindings(QKeySequence.StandardKey.Redo)]
        self.redo_keys.append(QKeySequence("Ctrl+Shift+Z"))
        self.redo_keys.append(QKeySequence("Ctrl+Y"))

    def _which(self, event) -> str | None:
        pressed = QKeySequence(event.keyCombination())
        if any(pressed.matches(k) == QKeySequence.ExactMatch for k in self.undo_keys):
            return "undo"
        if any(pressed.matches(k) == QKeySequence.ExactMatch for k in self.redo_keys):
            return "redo"
        return None

    def eventFilter(self, obj, event) -> bool:
        if event.type() == QEvent.ShortcutOverride and obj is QApplication.focusWidget():
            which = self._which(event)
            if which is not None and _own_history(obj, which == "redo") is False:
                event.ignore()
                return True    # the text box does not claim the keys: the window's action runs
        return False
