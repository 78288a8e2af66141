"""The window's status bar: what is open, how the last run went, and a load's progress."""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QLabel, QProgressBar, QSizePolicy, QStatusBar


class ElidedLabel(QLabel):
    """A one-line label that ends in '…' where its text does not fit, instead of being cut
    mid-letter under its neighbour; `full_text` is what it was given."""

    def __init__(self, text: str = ""):
        super().__init__()
        self.full_text = ""
        self.setText(text)

    def setText(self, text: str) -> None:
        self.full_text = text
        self._elide()

    def _elide(self) -> None:
        shown = self.fontMetrics().elidedText(self.full_text, Qt.ElideRight, max(self.width(), 1))
        super().setText(shown if self.width() > 1 else self.full_text)

    def resizeEvent(self, event) -> None:
        super().resizeEvent(event)
        self._elide()

    def changeEvent(self, event) -> None:
        super().changeEvent(event)
        if event.type() in (event.Type.FontChange, event.Type.StyleChange):
            self._elide()


class StatusLine:
    """Fills a QStatusBar; the window speaks to it in intents, never to its labels."""

    def __init__(self, bar: QStatusBar):
        self.session = ElidedLabel("no model open")
        # Never wider than the bar leaves it (2x text pushed the window off screen); the whole
        # line is in its tooltip.
        self.session.setSizePolicy(QSizePolicy.Ignored, QSizePolicy.Preferred)
        self.run = QLabel("")
        self.run.setObjectName("hint")
        self.progress = QProgressBar()
        self.progress.setRange(0, 100)
        self.progress.setMaximumWidth(260)
        self.progress.hide()
        bar.addWidget(self.session, 1)
        bar.addPermanentWidget(self.run)
        bar.addPermanentWidget(self.progress)

    def show_session(self, text: str) -> None:
        self.session.setText(text)
        self.session.setToolTip(text)

    def show_status(self, text: str, tooltip: str | None = None) -> None:
        """A run's state ('generating…', how it ended)."""
        self.run.setText(text)
        if tooltip is not None:
            self.run.setToolTip(tooltip)

    def status(self) -> str:
        return self.run.text()

    def start_progress(self, text: str) -> None:
        self.progress.setValue(0)
        self.progress.show()
        self.session.setText(text)

    def show_progress(self, fraction: float, message: str) -> None:
        self.progress.setValue(int(fraction * 100))
        self.progress.setFormat(f"{message[:40]} %p%")

    def end_progress(self, session_text: str | None = None) -> None:
        self.progress.hide()
        if session_text is not None:
            self.session.setText(session_text)
