"""How the app tells the user something went wrong, and asks before it reads a pickle or runs
a model's own code. Headless (a screenshot run), errors are printed instead."""

from __future__ import annotations

import sys

from PySide6.QtCore import QObject, Signal
from PySide6.QtWidgets import QMessageBox, QWidget

from steerdesk.engine.errors import InputError, PickleRefused, RemoteCodeRefused

CONSENT_QUESTIONS = (
    (PickleRefused, "allow_pickle", "Read a pickle file?",
     "Pickle files can run code when read. Only say yes if you trust where this file came "
     "from. Read it?"),
    (RemoteCodeRefused, "trust_remote_code", "Run the model's own code?", "Run its code?"),
)


def error_text(exc: BaseException) -> str:
    """The user's mistake in its own words; anything else is a bug and says so."""
    if isinstance(exc, InputError):
        return str(exc)
    return (f"{type(exc).__name__}: {exc}\n\nThis looks like a bug in steerdesk; the details "
            "are printed in the terminal.")


class Dialogs(QObject):
    error_shown = Signal(str)

    def __init__(self, parent: QWidget, interactive: bool = True):
        super().__init__(parent)
        self.parent_widget = parent
        self.interactive = interactive
        self.last_error = ""

    def show_error(self, title: str, exc: BaseException) -> None:
        text = error_text(exc)
        self.last_error = text
        self.error_shown.emit(text)
        if self.interactive:
            QMessageBox.warning(self.parent_widget, title, text)
        else:
            print(f"steerdesk: {title}: {text}", file=sys.stderr)

    def ask(self, title: str, text: str) -> bool:
        return QMessageBox.question(self.parent_widget, title, text) == QMessageBox.Yes

    def consent(self, exc: BaseException) -> dict[str, bool] | None:
        """The yes that `exc` needs (e.g. {'allow_pickle': True}), if the user gives it."""
        for kind, field, title, question in CONSENT_QUESTIONS:
            if isinstance(exc, kind) and self.interactive and self.ask(
                    title, f"{exc}\n\n{question}"):
                return {field: True}
        return None
