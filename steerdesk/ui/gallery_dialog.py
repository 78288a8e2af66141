"""File > Get a model…: the gallery of real model + SAE pairs, with sizes, licences (and the
gated note), what each needs, whether it is downloaded, and *Download and open* with a
progress bar and Cancel. Downloading runs in its own thread (the model's worker stays free);
`open_requested(sae_name)` asks the window to open `RELEASE:SAE_ID` (its model is implied)."""

from __future__ import annotations

import threading

from PySide6.QtCore import Qt, QThread, Signal
from PySide6.QtWidgets import (QAbstractItemView, QDialog, QHBoxLayout, QHeaderView, QLabel,
                               QMessageBox, QProgressBar, QPushButton, QTableWidget,
                               QTableWidgetItem, QVBoxLayout)

from steerdesk.engine.errors import Cancelled, InputError
from steerdesk.ui import gallery_model

COLUMNS = ("Model", "Download", "Memory for the weights", "Licence", "Downloaded")


class DownloadTask(QThread):
    """Pulls one name; progress and the end come back as queued signals."""

    progressed = Signal(object)          # PullProgress
    finished_ok = Signal(str)            # the name
    failed = Signal(object)              # the exception (InputError, Cancelled)

    def __init__(self, name: str, parent=None):
        super().__init__(parent)
        self.name = name
        self.cancel_event = threading.Event()

    def run(self) -> None:
        from steerdesk.engine import pulls

        try:
            pulls.pull(self.name, progress=self.progressed.emit, cancel=self.cancel_event)
        except (InputError, Cancelled) as exc:
            self.failed.emit(exc)
        except Exception as exc:  # noqa: BLE001 - shown in a dialog, never a traceback
            self.failed.emit(InputError(f"{self.name}: the download failed ({exc})"))
        else:
            self.finished_ok.emit(self.name)

    def cancel(self) -> None:
        self.cancel_event.set()


class GalleryDialog(QDialog):
    open_requested = Signal(str)         # RELEASE:SAE_ID, downloaded

    def __init__(self, parent=None):
        super().__init__(parent)
        self.setWindowTitle("Get a model")
        self.setMinimumSize(900, 480)
        self.task: DownloadTask | None = None
        self.rows: list[gallery_model.GalleryRow] = []
        intro = QLabel("Real models with their sparse autoencoders, from the Hugging Face Hub. "
                       "Each downloads once into your Hugging Face cache and then opens offline.")
        intro.setWordWrap(True)
        self.table = QTableWidget(0, len(COLUMNS))
        self.table.setHorizontalHeaderLabels(COLUMNS)
        self.table.setSelectionBehavior(QAbstractItemView.SelectRows)
        self.table.setSelectionMode(QAbstractItemView.SingleSelection)
        self.table.setEditTriggers(QAbstractItemView.NoEditTriggers)
        self.table.verticalHeader().hide()
        self.table.horizontalHeader().setSectionResizeMode(0, QHeaderView.Stretch)
        for c in range(1, len(COLUMNS)):
            self.table.horizontalHeader().setSectionResizeMode(c, QHeaderView.ResizeToContents)
        self.table.itemSelectionChanged.connect(self._selected)
        self.table.doubleClicked.connect(lambda _: self.go())
        self.details = QLabel()
        self.details.setWordWrap(True)
        self.details.setTextFormat(Qt.RichText)
        self.details.setOpenExternalLinks(True)
        self.details.setMinimumHeight(110)
        self.details.setAlignment(Qt.AlignTop | Qt.AlignLeft)
        self.bar = QProgressBar()
        self.bar.setRange(0, 1000)
        self.bar.hide()
        self.status = QLabel("")
        self.go_button = QPushButton("Download and open")
        self.go_button.setDefault(True)
        self.go_button.clicked.connect(self.go)
        self.cancel_button = QPushButton("Cancel download")
        self.cancel_button.clicked.connect(self.cancel_download)
        self.cancel_button.hide()
        self.close_button = QPushButton("Close")
        self.close_button.clicked.connect(self.reject)
        buttons = QHBoxLayout()
        buttons.addWidget(self.status, 1)
        buttons.addWidget(self.cancel_button)
        buttons.addWidget(self.go_button)
        buttons.addWidget(self.close_button)
        layout = QVBoxLayout(self)
        layout.addWidget(intro)
        layout.addWidget(self.table, 1)
        layout.addWidget(self.details)
        layout.addWidget(self.bar)
        layout.addLayout(buttons)
        self.refresh()

    # ---- the table ----------------------------------------------------------------------
    def refresh(self) -> None:
        keep = self.current()
        self.rows = gallery_model.rows()
        self.table.setRowCount(len(self.rows))
        for r, row in enumerate(self.rows):
            here = {"yes": "✓ downloaded", "part": "partly", "no": "—"}[row.here]
            for c, text in enumerate((f"{row.title}  ({row.name})", row.size, row.needs,
                                      row.licence, here)):
                item = QTableWidgetItem(text)
                item.setToolTip(row.sae_name if c == 0 else text)
                self.table.setItem(r, c, item)
        index = next((i for i, row in enumerate(self.rows) if keep and row.name == keep.name), 0)
        if self.rows:
            self.table.selectRow(index)
        self._selected()

    def current(self) -> gallery_model.GalleryRow | None:
        r = self.table.currentRow()
        return self.rows[r] if 0 <= r < len(self.rows) else None

    def _selected(self) -> None:
        row = self.current()
        self.details.setText(row.details if row else "")
        self.go_button.setText("Open" if row and row.downloaded else "Download and open")
        self.go_button.setEnabled(row is not None and self.task is None)

    # ---- downloading --------------------------------------------------------------------
    def go(self) -> None:
        row = self.current()
        if row is None or self.task is not None:
            return
        if row.downloaded:
            self.open_requested.emit(row.sae_name)
            self.accept()
            return
        self.task = DownloadTask(row.sae_name, self)
        self.task.progressed.connect(self._progress)
        self.task.finished_ok.connect(self._done)
        self.task.failed.connect(self._failed)
        self.bar.setValue(0)
        self.bar.show()
        self.cancel_button.show()
        self.go_button.setEnabled(False)
        self.table.setEnabled(False)
        self.status.setText(f"Asking the hub about {row.sae_name}…")
        self.task.start()

    def cancel_download(self) -> None:
        if self.task is not None:
            self.task.cancel()
            self.status.setText("Stopping…")

    def _progress(self, p) -> None:
        self.bar.setValue(int(p.fraction * 1000))
        self.status.setText(gallery_model.progress_text(p))

    def _end(self) -> None:
        if self.task is not None:
            self.task.wait()
        self.task = None
        self.bar.hide()
        self.cancel_button.hide()
        self.table.setEnabled(True)
        self.refresh()

    def _done(self, name: str) -> None:
        self._end()
        self.status.setText(f"Downloaded {name}.")
        self.open_requested.emit(name)
        self.accept()

    def _failed(self, exc: BaseException) -> None:
        self._end()
        if isinstance(exc, Cancelled):
            self.status.setText("Stopped. What was downloaded is kept: Download resumes it.")
            return
        self.status.setText("")
        message = exc.message if isinstance(exc, InputError) else str(exc)
        QMessageBox.warning(self, gallery_model.error_title(exc), message)

    def reject(self) -> None:  # closing the dialog stops a download (it resumes next time)
        if self.task is not None:
            self.task.cancel()
            self.task.wait()
            self.task = None
        super().reject()
