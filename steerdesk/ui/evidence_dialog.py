"""Build evidence from your own text: the catalog builder in the app, with progress, ETA,
Stop and resume. A downloaded SAE often has labels (e.g. from Neuronpedia) but no snippets;
the feature card says so (`needs_evidence`, LABELS_WITHOUT_SNIPPETS) and opens this dialog.

The build runs on the app's model worker (the one thread that touches the model), as one
task; the dialog only sends intent and renders what the task reports. Stopping
saves the build's state beside the SAE; the same text resumes it (the pasted text is kept in
the catalog folder as `your-text.txt` so that it is the same corpus next time)."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import Signal
from PySide6.QtWidgets import (QDialog, QFileDialog, QHBoxLayout, QLabel, QPlainTextEdit,
                               QProgressBar, QPushButton, QSpinBox, QVBoxLayout)

from steerdesk.engine.errors import Cancelled, InputError

TEXT_FILE = "your-text.txt"
LABELS_WITHOUT_SNIPPETS = (
    "<b>This feature has a label but no evidence yet</b>: the labels came without snippets of "
    "text where the feature fires. <a href='steerdesk:build-evidence'>Build evidence from "
    "your own text…</a>")


def needs_evidence(source, index: int) -> bool:
    """True when the feature card should offer to build evidence: a label, no snippets."""
    if source is None or index < 0 or not getattr(source, "has_catalog", False):
        return False
    record = source.card(index)
    return record is not None and bool(record.label) and not record.snippets


class EvidenceDialog(QDialog):
    built = Signal(object)               # the new Catalog

    def __init__(self, session, worker, parent=None):
        super().__init__(parent)
        from steerdesk.engine.catalog import catalog_folder_for
        from steerdesk.engine.catalog.build import STATE

        self.session, self.worker, self.task = session, worker, None
        self.folder = catalog_folder_for(session.sae_path)
        self.setWindowTitle("Build evidence from your text")
        self.setMinimumSize(640, 420)
        intro = QLabel("Paste text (or choose .txt / .jsonl files): steerdesk runs it through the "
                       "model and keeps, for every feature, the snippets where it fires most. "
                       "More text gives better evidence; 50,000 tokens is a good start.")
        intro.setWordWrap(True)
        self.text = QPlainTextEdit()
        self.text.setPlaceholderText("Paste paragraphs of text here…")
        saved = self.folder / TEXT_FILE
        if saved.is_file():
            self.text.setPlainText(saved.read_text(encoding="utf-8"))
        self.corpus: Path | None = None
        self.files_button = QPushButton("Choose files…")
        self.files_button.clicked.connect(self.choose_files)
        self.tokens = QSpinBox()
        self.tokens.setRange(1_000, 100_000_000)
        self.tokens.setSingleStep(10_000)
        self.tokens.setValue(50_000)
        self.tokens.setSuffix(" tokens at most")
        self.bar = QProgressBar()
        self.bar.setRange(0, 1000)
        self.status = QLabel("An unfinished build is saved: Build resumes it."
                             if (self.folder / STATE).is_file() else "")
        self.status.setWordWrap(True)
        self.build_button = QPushButton("Build evidence")
        self.build_button.setDefault(True)
        self.build_button.clicked.connect(self.start)
        self.stop_button = QPushButton("Stop")
        self.stop_button.setEnabled(False)
        self.stop_button.clicked.connect(self.stop)
        close = QPushButton("Close")
        close.clicked.connect(self.reject)
        row = QHBoxLayout()
        row.addWidget(self.files_button)
        row.addWidget(self.tokens)
        row.addStretch(1)
        buttons = QHBoxLayout()
        buttons.addWidget(self.status, 1)
        buttons.addWidget(self.stop_button)
        buttons.addWidget(self.build_button)
        buttons.addWidget(close)
        layout = QVBoxLayout(self)
        layout.addWidget(intro)
        layout.addWidget(self.text, 1)
        layout.addLayout(row)
        layout.addWidget(self.bar)
        layout.addLayout(buttons)

    def choose_files(self) -> None:
        path = QFileDialog.getExistingDirectory(self, "A folder of .txt / .jsonl files")
        if path:
            self.corpus = Path(path)
            self.text.setPlainText("")
            self.text.setPlaceholderText(f"Using the files in {path}")

    def _corpus(self) -> Path:
        if self.corpus is not None:
            return self.corpus
        text = self.text.toPlainText().strip()
        if not text:
            raise InputError("paste some text (or choose files) to build evidence from")
        self.folder.mkdir(parents=True, exist_ok=True)
        target = self.folder / TEXT_FILE
        if not target.is_file() or target.read_text(encoding="utf-8") != text + "\n":
            target.write_text(text + "\n", encoding="utf-8")
        return target

    def start(self) -> None:
        from steerdesk.engine.catalog import build_catalog

        try:
            corpus = self._corpus()
        except InputError as exc:
            self.status.setText(exc.message)
            return
        session, tokens = self.session, self.tokens.value()

        def build(task):
            return build_catalog(session, corpus, tokens=tokens, cancelled=task.cancel_event,
                                 progress=task.report_progress)

        self.task = self.worker.submit(build, on_progress=self._progress, on_done=self._done,
                                       on_error=self._failed)
        self.build_button.setEnabled(False)
        self.stop_button.setEnabled(True)
        self.status.setText("Starting…")

    def stop(self) -> None:
        if self.task is not None and self.task.pending:
            self.task.stop()     # it still reports: the saved state, or what it finished
            self.status.setText("Stopping after this batch…")

    def _progress(self, fraction: float, message: str) -> None:
        self.bar.setValue(int(fraction * 1000))
        self.status.setText(message)

    def _finish(self) -> None:
        self.task = None
        self.build_button.setEnabled(True)
        self.stop_button.setEnabled(False)

    def _done(self, result) -> None:
        self._finish()
        self.bar.setValue(1000)
        self.status.setText(f"Evidence built: {result.d_sae:,} features now have snippets "
                            "where they fire.")
        self.session.catalog = result
        self.session.max_acts = result.max_activations()
        self.built.emit(result)

    def _failed(self, exc, traceback_text: str) -> None:
        self._finish()
        if isinstance(exc, Cancelled):
            self.status.setText("Stopped; the work so far is saved. Build resumes it.")
        else:
            self.status.setText(exc.message if isinstance(exc, InputError) else
                                f"The build failed: {exc}")

    def reject(self) -> None:
        self.stop()
        super().reject()
