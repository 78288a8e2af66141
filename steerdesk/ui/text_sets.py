"""Two named lists of example texts side by side ("spam" / "not spam"), one text per line,
each typed in or loaded from a file. Only the texts and their names: what they are for
(a classifier, a steering vector) is up to the dialog that holds this widget."""

from __future__ import annotations

from PySide6.QtCore import Signal
from PySide6.QtWidgets import (
    QFileDialog,
    QGridLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QMessageBox,
    QPlainTextEdit,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from steerdesk.engine.errors import InputError
from steerdesk.ui.dialogs import error_text

FILE_KINDS = "Text files (*.txt *.jsonl);;All files (*)"
FILE_TIP = ("A .txt file: one text per line. A .jsonl file: one text per line, as a JSON "
            "string or an object with a \"text\" field. A text that spans lines is joined "
            "into one line here.")


class TextSet(QWidget):
    """One side: its name, its texts (one per line), how many there are, a Load button."""

    changed = Signal()

    def __init__(self, name: str, placeholder: str, fallback: str, parent=None):
        super().__init__(parent)
        self.fallback = fallback        # the side's name while its field is empty
        self.name = QLineEdit(name)
        self.name.setToolTip("What the texts on this side have in common, in a word or two")
        self.name.setPlaceholderText("a name for these texts")
        self.edit = QPlainTextEdit()
        self.edit.setPlaceholderText(placeholder + "\n\nOne text per line.")
        self.edit.setLineWrapMode(QPlainTextEdit.NoWrap)   # a line on screen is one text
        self.count = QLabel()
        self.count.setObjectName("hint")
        self.load_button = QPushButton("Load from file…")
        self.load_button.setToolTip(FILE_TIP)
        self.load_button.clicked.connect(self.choose_file)
        self.edit.textChanged.connect(self._changed)
        self.name.textChanged.connect(self.changed)
        bottom = QHBoxLayout()
        bottom.addWidget(self.count, 1)
        bottom.addWidget(self.load_button)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.name)
        layout.addWidget(self.edit, 1)
        layout.addLayout(bottom)
        self._changed()

    def texts(self) -> list[str]:
        """The non-empty lines, stripped."""
        return [ln.strip() for ln in self.edit.toPlainText().splitlines() if ln.strip()]

    def set_texts(self, texts: list[str]) -> None:
        self.edit.setPlainText("\n".join(" ".join(t.split()) for t in texts))

    def title(self) -> str:
        return self.name.text().strip() or self.fallback

    def load(self, path: str) -> None:
        """The file's texts replace the list (its name becomes the side's name if it has
        none). Raises InputError for a missing, unreadable or empty file."""
        from pathlib import Path

        from steerdesk.engine.catalog.corpus import read_texts

        texts = read_texts(path)       # the reader the CLI's --a / --b use
        self.set_texts(texts)
        if not self.name.text().strip():
            self.name.setText(Path(path).stem)

    def choose_file(self) -> None:
        path, _ = QFileDialog.getOpenFileName(self, "Load example texts", "", FILE_KINDS)
        if path:
            self.load_reporting(path)

    def load_reporting(self, path: str) -> bool:
        """load(), with a problem shown as a dialog of one line."""
        try:
            self.load(path)
        except InputError as exc:
            QMessageBox.warning(self, "Load example texts", error_text(exc))
            return False
        return True

    def _changed(self) -> None:
        n = len(self.texts())
        self.count.setText(f"{n} text{'s' if n != 1 else ''}")
        self.changed.emit()


class TwoTextSets(QWidget):
    """Set A on the left, set B on the right."""

    changed = Signal()

    def __init__(self, names: tuple[str, str] = ("", ""),
                 placeholders: tuple[str, str] = ("Texts of the first kind…",
                                                  "Texts of the other kind…"), parent=None):
        super().__init__(parent)
        self.a = TextSet(names[0], placeholders[0], "first set")
        self.b = TextSet(names[1], placeholders[1], "second set")
        grid = QGridLayout(self)
        grid.setContentsMargins(0, 0, 0, 0)
        grid.addWidget(self.a, 0, 0)
        grid.addWidget(self.b, 0, 1)
        for side in (self.a, self.b):
            side.changed.connect(self.changed)

    def texts(self) -> tuple[list[str], list[str]]:
        return self.a.texts(), self.b.texts()

    def names(self) -> tuple[str, str]:
        return self.a.title(), self.b.title()

    def check(self) -> tuple[list[str], list[str]]:
        """Both lists, or InputError naming the side that is empty."""
        for side in (self.a, self.b):
            if not side.texts():
                raise InputError(f"“{side.title()}” has no texts: type some, one per line, or "
                                 "load a file")
        a, b = self.texts()
        if self.a.title() == self.b.title():
            raise InputError("the two sides have the same name: give each its own")
        return a, b
