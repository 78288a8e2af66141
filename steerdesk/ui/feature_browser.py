"""Finding features: a search over labels (debounced, instant at 100k+), 'what lights up' on a
piece of text, and the card of the selected feature."""

from __future__ import annotations

from PySide6.QtCore import QEvent, Qt, QTimer, Signal
from PySide6.QtWidgets import (
    QAbstractItemView,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QLineEdit,
    QPlainTextEdit,
    QPushButton,
    QTableView,
    QVBoxLayout,
    QWidget,
)

from steerdesk.ui.feature_card import FeatureCard
from steerdesk.ui.feature_source import FeatureSource
from steerdesk.ui.feature_table import FeatureTableModel

SEARCH_DELAY_MS = 120


class FeatureBrowser(QWidget):
    add_requested = Signal(int)          # feature index
    feature_selected = Signal(int)
    lights_up_requested = Signal(str)
    label_changed = Signal(int)
    evidence_requested = Signal()        # the card's "build evidence from your text"

    def __init__(self, parent=None):
        super().__init__(parent)
        self.source: FeatureSource | None = None
        self.search = QLineEdit()
        self.search.setPlaceholderText("Search features: words in the label, or a number")
        self.search.setClearButtonEnabled(True)
        self.search.setToolTip("Type words (all must appear in the feature's label) or a "
                               "feature number. Results update as you type.")
        self.count = QLabel("")
        self.count.setObjectName("hint")
        self._timer = QTimer(self, singleShot=True, interval=SEARCH_DELAY_MS)
        self._timer.timeout.connect(self.apply_search)
        self.search.textChanged.connect(lambda _: self._timer.start())
        self.search.returnPressed.connect(self.apply_search)

        self.model = FeatureTableModel(self)
        self.table = QTableView()
        self.table.setModel(self.model)
        self.table.setSelectionBehavior(QAbstractItemView.SelectRows)
        self.table.setSelectionMode(QAbstractItemView.ExtendedSelection)
        self.table.setDragEnabled(True)
        self.table.setDragDropMode(QAbstractItemView.DragOnly)
        self.table.verticalHeader().hide()
        self.table.verticalHeader().setDefaultSectionSize(self.fontMetrics().height() + 8)
        self.table.setWordWrap(False)
        self.table.setAlternatingRowColors(True)
        self.table.setSortingEnabled(True)
        self.table.horizontalHeader().setSortIndicator(-1, Qt.AscendingOrder)
        self.table.horizontalHeader().setSortIndicatorClearable(True)
        header = self.table.horizontalHeader()
        header.setSectionResizeMode(1, QHeaderView.Stretch)
        for col in (2, 3):
            header.setSectionResizeMode(col, QHeaderView.ResizeToContents)
        # The number column is sized for the largest index (set_source): ResizeToContents only
        # samples the first rows, whose numbers are short, and cut 4-digit numbers to "14...".
        header.setSectionResizeMode(0, QHeaderView.Fixed)
        self.table.doubleClicked.connect(lambda ix: self.add_requested.emit(
            self.model.feature_at(ix.row())))
        self.table.selectionModel().currentRowChanged.connect(self._current_changed)

        # Where a search finds nothing: a hint in the empty list's place, not a blank list.
        self.empty_hint = QLabel()
        self.empty_hint.setObjectName("hint")
        self.empty_hint.setWordWrap(True)
        self.empty_hint.setTextFormat(Qt.PlainText)      # the search words, as typed
        self.empty_hint.setAlignment(Qt.AlignTop | Qt.AlignLeft)
        self.empty_hint.setMargin(8)
        self.empty_hint.hide()

        self.card = FeatureCard()
        self.card.add_requested.connect(self.add_requested)
        self.card.rename_requested.connect(self.rename)
        self.card.evidence_requested.connect(self.evidence_requested)

        self.text = QPlainTextEdit()
        self.text.setPlaceholderText("Paste text here to see which features light up on it "
                                     "(or right-click a selection in the prompt or an output)")
        self.text.setMaximumHeight(70)
        self.lights_button = QPushButton("What lights up?")
        self.lights_button.setToolTip("List the features most active on this text, strongest "
                                      "first (runs the model on it)")
        self.lights_button.clicked.connect(
            lambda: self.lights_up_requested.emit(self.text.toPlainText()))
        self.back_button = QPushButton("All features")
        self.back_button.setToolTip("Leave the 'what lights up' results and list every feature")
        self.back_button.clicked.connect(self.apply_search)
        self.back_button.hide()

        search_row = QHBoxLayout()
        search_row.addWidget(self.search, 1)
        search_row.addWidget(self.count)
        lights_row = QHBoxLayout()
        lights_row.addWidget(self.lights_button)
        lights_row.addWidget(self.back_button)
        lights_row.addStretch(1)

        upper = QWidget()
        ul = QVBoxLayout(upper)
        ul.setContentsMargins(0, 0, 0, 0)
        ul.addLayout(search_row)
        ul.addWidget(self.table, 1)
        ul.addWidget(self.empty_hint, 1)
        ul.addWidget(self.text)
        ul.addLayout(lights_row)
        # The card is placed by the window (beside the steering panel, where it has room);
        # the browser still drives it.
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(upper)
        self.set_source(None)

    def set_source(self, source: FeatureSource | None) -> None:
        self.source = source
        self._fit_number_column()
        self.model.set_source(source)
        self.card.set_source(source)
        self.setEnabled(source is not None)
        self.card.setEnabled(source is not None)
        self.apply_search()

    def _fit_number_column(self) -> None:
        widest = str(max(self.source.d_sae - 1, 99) if self.source else 99)
        self.table.setColumnWidth(0, self.table.fontMetrics().horizontalAdvance(widest) + 18)

    def changeEvent(self, event) -> None:
        super().changeEvent(event)
        if event.type() in (QEvent.FontChange, QEvent.StyleChange) and hasattr(self, "table"):
            self._fit_number_column()

    def apply_search(self) -> None:
        self._timer.stop()
        self.back_button.hide()
        if self.source is None:
            self.count.setText("no model open")
            self._show_empty_hint("")
            return
        rows = self.source.search(self.search.text())
        self.model.set_rows(rows)
        self._clear_sort()
        self._show_count(len(rows))
        words = self.search.text().strip()
        if len(rows) == 0 and words and not self.source.has_catalog:
            self.count.setText("no catalog: search by feature number")
            self._show_empty_hint("This SAE has no labels (no catalog). Search by feature "
                                  "number, or paste text below and press What lights up?")
        elif len(rows) == 0 and words:
            self._show_empty_hint(f"No label has \"{words}\". Try another word, a feature "
                                  "number, or paste text below and press What lights up?")
        else:
            self._show_empty_hint("")

    def _show_empty_hint(self, text: str) -> None:
        """The hint in the list's place (empty text: the list)."""
        self.empty_hint.setText(text)
        self.empty_hint.setVisible(bool(text))
        self.table.setVisible(not text)

    def _clear_sort(self) -> None:
        """New results come in their own order (best match first): no column is sorted."""
        header = self.table.horizontalHeader()
        header.blockSignals(True)
        header.setSortIndicator(-1, Qt.AscendingOrder)
        header.blockSignals(False)

    def _show_count(self, n: int) -> None:
        total = self.source.d_sae if self.source else 0
        self.count.setText(f"{n:,} of {total:,}")

    def show_lights_up(self, text: str, found: list[tuple[int, float]]) -> None:
        self._show_empty_hint("")
        self.model.set_rows([i for i, _ in found], {i: v for i, v in found})
        self._clear_sort()
        self.count.setText(f"{len(found)} light up")
        self.back_button.show()
        if found:
            self.table.selectRow(0)

    def show_token_features(self, text: str, found: list[tuple[int, float]]) -> None:
        """A token's top features (known from the run), listed as 'what lights up' is."""
        self.set_lights_text(text)
        self.show_lights_up(text, found)
        self.count.setText(f"top features at {text!r}")

    def set_dark(self, dark: bool) -> None:
        self.card.set_dark(dark)

    def set_lights_text(self, text: str) -> None:
        self.text.setPlainText(text)

    def rename(self, index: int, text: str | None = None) -> bool:
        """Set the user's own label for a feature (asks for it when `text` is None)."""
        if self.source is None:
            return False
        if text is None:
            from PySide6.QtWidgets import QInputDialog

            text, ok = QInputDialog.getText(self, "Rename feature",
                                            f"Your label for feature {index}:",
                                            text=self.source.label(index) or "")
            if not ok:
                return False
        text = text.strip()
        if not text:
            return False
        self.source.set_user_label(index, text)
        self.model.dataChanged.emit(self.model.index(0, 1),
                                    self.model.index(self.model.rowCount() - 1, 1))
        self.card.show_feature(index)
        self.label_changed.emit(index)
        return True

    def reveal(self, index: int) -> None:
        """Select feature `index` in the list (searching it by number if it is filtered out)."""
        rows = list(self.model.rows)
        if index not in rows:
            self.search.setText(str(index))
            self.apply_search()
            rows = list(self.model.rows)
        if index in rows:
            self.table.selectRow(rows.index(index))
            self.table.scrollTo(self.model.index(rows.index(index), 0))

    def _current_changed(self, current, _previous) -> None:
        if current.isValid():
            i = self.model.feature_at(current.row())
            self.card.show_feature(i)
            self.feature_selected.emit(i)
