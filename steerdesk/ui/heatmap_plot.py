"""The heatmap: the top features (rows) x generated tokens (columns) of one output, with a
colour scale, and feature names elided to fit (the full name on hover)."""

from __future__ import annotations

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import Qt
from PySide6.QtGui import QFont, QFontMetrics
from PySide6.QtWidgets import QComboBox, QHBoxLayout, QLabel, QVBoxLayout, QWidget

from steerdesk.ui import wording
from steerdesk.ui.run_record import RunRecord

HEATMAP_FEATURES = 12
LABEL_PX = 260            # the widest a feature name may be before it is elided (normal text)


class HeatmapPlot(QWidget):
    """Top features (rows) x generated tokens (columns) for one output row."""

    def __init__(self, parent=None):
        super().__init__(parent)
        self.which = QComboBox()
        self.which.setToolTip("Which output to show")
        self.which.currentIndexChanged.connect(lambda _: self._redraw_last())
        self.plot = pg.PlotWidget()
        self.plot.getPlotItem().setMenuEnabled(False)
        self.plot.invertY(True)
        self.plot.setLabel("bottom", "generated token")
        self.image = pg.ImageItem()
        self.plot.addItem(self.image)
        self.bar = pg.ColorBarItem(values=(0, 1), label="activation", interactive=False,
                                   width=16)
        self._set_colours(False)
        self.bar.setImageItem(self.image, insert_in=self.plot.getPlotItem())
        self.hint = pg.TextItem("After a run: the features most active on each token.",
                                color="#666666", anchor=(0.5, 0.5))
        self.hint.setPos(0.5, 0.5)
        self.plot.addItem(self.hint)
        self.plot.setToolTip("The features most active in this output, per generated token "
                             "(brighter = stronger; the scale is on the right). Only each "
                             "token's top features are known.")
        self.plot.scene().sigMouseMoved.connect(self._hover)
        head = QHBoxLayout()
        head.addWidget(QLabel("Top features in"))
        head.addWidget(self.which)
        head.addStretch(1)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addLayout(head)
        layout.addWidget(self.plot, 1)
        self.label_of = lambda i: None
        self._record: RunRecord | None = None
        self.features: list[int] = []
        self.names: list[str] = []           # full names, the axis shows them elided
        self.tokens: list[str] = []
        self.matrix = np.zeros((0, 0))
        self.dark = False

    def set_dark(self, dark: bool) -> None:
        from steerdesk.ui.plots import style_plot

        self.dark = dark
        style_plot(self.plot, dark)
        self._set_colours(dark)
        self._redraw_last()

    def _set_colours(self, dark: bool) -> None:
        """Zero is the page colour, so the few active cells stand out, as the token tint does."""
        page = (0, 0, 0) if dark else (255, 255, 255)
        top = (255, 236, 140) if dark else (140, 30, 0)
        cmap = pg.ColorMap([0.0, 0.5, 1.0], [page, (255, 150, 40), top])
        self.bar.setColorMap(cmap)

    def reset(self, record: RunRecord | None, label_of) -> None:
        self.label_of = label_of
        self._record = record
        self.which.blockSignals(True)
        self.which.clear()
        if record is not None:
            self.which.addItems([r.name for r in record.rows])
            self.which.setCurrentIndex(len(record.rows) - 1)   # a steered row, if any
        self.which.blockSignals(False)
        self.image.clear()
        self.features, self.names, self.tokens, self.matrix = [], [], [], np.zeros((0, 0))

    def _redraw_last(self) -> None:
        if self._record is not None:
            self.redraw(self._record)

    def redraw(self, record: RunRecord) -> None:
        r = max(self.which.currentIndex(), 0)
        if r >= len(record.rows) or not record.rows[r].tokens:
            return
        tokens = record.rows[r].tokens
        best: dict[int, float] = {}
        for t in tokens:
            for i, v in t.top_features:
                best[i] = max(best.get(i, 0.0), v)
        feats = [i for i, v in sorted(best.items(), key=lambda kv: -kv[1]) if v > 0]
        feats = feats[:HEATMAP_FEATURES]
        if not feats:
            return
        col = {f: n for n, f in enumerate(feats)}
        m = np.zeros((len(tokens), len(feats)))           # ImageItem: [x, y]
        for x, t in enumerate(tokens):
            for i, v in t.top_features:
                if i in col:
                    m[x, col[i]] = max(v, 0.0)
        self.features, self.matrix = feats, m
        self.names = [wording.feature_name(f, self.label_of(f)) for f in feats]
        self.tokens = [t.text for t in tokens]
        self.hint.hide()
        self.image.setImage(m, autoLevels=False)
        self.bar.setLevels((0.0, max(float(m.max()), 1e-6)))
        self._label_axes()
        self.plot.setLimits(xMin=0, xMax=len(tokens), yMin=0, yMax=len(feats))
        self.plot.setRange(xRange=(0, len(tokens)), yRange=(0, len(feats)), padding=0)

    def axis_labels(self) -> list[str]:
        """The feature names as the axis shows them: whole where they fit, else elided."""
        font = QFont(self.font())
        font.setPointSizeF(18 if self.dark else 9)      # style_plot's tick font
        metrics = QFontMetrics(font)
        room = int(LABEL_PX * (2.0 if self.dark else 1.0))
        return [metrics.elidedText(n, Qt.ElideRight, room) for n in self.names]

    def _label_axes(self) -> None:
        labels = self.axis_labels()
        axis = self.plot.getAxis("left")
        axis.setTicks([[(n + 0.5, text) for n, text in enumerate(labels)]])
        font = QFont(self.font())
        font.setPointSizeF(18 if self.dark else 9)
        widest = max((QFontMetrics(font).horizontalAdvance(t) for t in labels), default=40)
        axis.setWidth(widest + 16)
        step = max(1, len(self.tokens) // 12)
        self.plot.getAxis("bottom").setTicks(
            [[(x + 0.5, repr(self.tokens[x])[1:-1][:8])
              for x in range(0, len(self.tokens), step)]])

    def cell_text(self, x: int, y: int) -> str:
        """The hover text of a cell: the full feature name, the token and the activation."""
        if not (0 <= y < len(self.names) and 0 <= x < len(self.tokens)):
            return ""
        return (f"{self.names[y]}\ntoken {x + 1} {self.tokens[x]!r}: "
                f"activation {self.matrix[x, y]:.2f}")

    def _hover(self, pos) -> None:
        view = self.plot.getPlotItem().vb
        axis = self.plot.getAxis("left")
        if axis.sceneBoundingRect().contains(pos):   # over a name: the name in full
            y = int(view.mapSceneToView(pos).y())
            self.plot.setToolTip(self.names[y] if 0 <= y < len(self.names) else "")
            return
        p = view.mapSceneToView(pos)
        self.plot.setToolTip(self.cell_text(int(np.floor(p.x())), int(np.floor(p.y()))))
