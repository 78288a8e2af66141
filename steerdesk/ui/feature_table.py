"""The list of all features as a Qt model: one row per match, computed lazily by the view, so
100k+ features cost an index array, not 100k widgets. Filtering swaps that array."""

from __future__ import annotations

import numpy as np
from PySide6.QtCore import QAbstractTableModel, QMimeData, QModelIndex, Qt

from steerdesk.ui import wording
from steerdesk.ui.feature_source import FeatureSource

MIME = "application/x-steerdesk-feature"
COLUMNS = ("#", "label", "max act", "density")
TIPS = ("The feature's number in the SAE",
        "What the feature responds to, in words (from the catalog)",
        ("Max activation: the largest value the feature reached on the catalog's text. "
         "Steering strengths in 'x max' are multiples of it."),
        ("Density: how often the feature is active (share of tokens). Very dense features "
         "tend to be generic."))
_ROOT = QModelIndex()


class FeatureTableModel(QAbstractTableModel):
    def __init__(self, parent=None):
        super().__init__(parent)
        self.source: FeatureSource | None = None
        self.rows = np.zeros(0, dtype=np.int64)
        self.extra: dict[int, float] = {}   # a per-feature value shown instead of max act

    def set_source(self, source: FeatureSource | None) -> None:
        self.beginResetModel()
        self.source = source
        self.rows = np.arange(source.d_sae) if source else np.zeros(0, dtype=np.int64)
        self.extra = {}
        self.endResetModel()

    def set_rows(self, rows, extra: dict[int, float] | None = None) -> None:
        self.beginResetModel()
        self.rows = np.asarray(rows, dtype=np.int64)
        self.extra = extra or {}
        self.endResetModel()

    def sort(self, column: int, order=Qt.AscendingOrder) -> None:
        """Header clicks: order the current rows by number, label, max act (or the value on
        the text) or density. Vectorised, so 100k rows sort in well under a second."""
        if self.source is None or len(self.rows) == 0:
            return
        rows, src = self.rows, self.source
        if column == 0:
            keys = rows
        elif column == 1:
            labels = [wording.feature_words(int(i), src.label(int(i))).lower() for i in rows]
            keys = np.argsort(np.array(labels, dtype=object), kind="stable")
            keys = np.argsort(keys, kind="stable")        # rank of each row
        elif column == 2 and self.extra:
            keys = np.array([self.extra.get(int(i), 0.0) for i in rows])
        else:
            values = src.max_acts if column == 2 else src.densities
            if values is None:
                return
            keys = values[rows]
        order_idx = np.argsort(keys, kind="stable")
        if order == Qt.DescendingOrder:
            order_idx = order_idx[::-1]
        self.layoutAboutToBeChanged.emit()
        self.rows = rows[order_idx]
        self.layoutChanged.emit()

    def feature_at(self, row: int) -> int:
        return int(self.rows[row])

    def rowCount(self, parent=_ROOT):
        return 0 if parent.isValid() else len(self.rows)

    def columnCount(self, parent=_ROOT):
        return 0 if parent.isValid() else len(COLUMNS)

    def headerData(self, section, orientation, role=Qt.DisplayRole):
        if orientation != Qt.Horizontal:
            return None
        if role == Qt.DisplayRole:
            return "on text" if section == 2 and self.extra else COLUMNS[section]
        if role == Qt.ToolTipRole:
            return ("The feature's highest activation on your text" if section == 2
                    and self.extra else TIPS[section])
        return None

    def data(self, index, role=Qt.DisplayRole):
        if not index.isValid() or self.source is None:
            return None
        i, col = int(self.rows[index.row()]), index.column()
        if role == Qt.DisplayRole:
            if col == 0:
                return str(i)
            if col == 1:
                return wording.feature_words(i, self.source.label(i))
            if col == 2:
                v = self.extra.get(i, self.source.max_act(i))
                return "–" if v is None else f"{v:.2f}"
            return wording.density(self.source.density(i))
        if role == Qt.TextAlignmentRole and col != 1:
            return int(Qt.AlignRight | Qt.AlignVCenter)
        if role == Qt.ToolTipRole:
            return (f"{wording.feature_words(i, self.source.label(i))}\n(feature {i}) - "
                    "double-click or drag to the steering panel to steer with it")
        if role == Qt.UserRole:
            return i
        return None

    def flags(self, index):
        return super().flags(index) | Qt.ItemIsDragEnabled

    def mimeTypes(self):
        return [MIME]

    def mimeData(self, indexes):
        mime = QMimeData()
        feats = sorted({int(self.rows[ix.row()]) for ix in indexes})
        mime.setData(MIME, ",".join(map(str, feats)).encode())
        mime.setText(", ".join(f"feature {f}" for f in feats))
        return mime
