"""Live plots: watched features' activation per generated token (baseline dashed, steered
solid, one colour per feature), and a heatmap of the top features x tokens of one row.
They redraw from the RunRecord when the window's frame timer says so, never per event."""

from __future__ import annotations

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import QComboBox, QHBoxLayout, QLabel, QTabWidget, QVBoxLayout, QWidget

from steerdesk.ui import theme, wording
from steerdesk.ui.run_record import RunRecord

ROW_STYLES = [Qt.DashLine, Qt.SolidLine, Qt.DotLine, Qt.DashDotLine, Qt.DashDotDotLine]
HEATMAP_FEATURES = 12

# Antialiased lines cost more to paint than everything else in the window put together while
# tokens stream (measured: the event loop fell ~90 ms behind); plain lines keep it near zero.
pg.setConfigOptions(antialias=False, background="w", foreground="k")
X_STEP = 32            # the x range grows in steps, so the axes do not re-lay out every frame


class ActivationPlot(pg.PlotWidget):
    def __init__(self, parent=None):
        super().__init__(parent)
        self.setLabel("bottom", "generated token")
        self.setLabel("left", "activation")
        # No grid and 1-px pens: a grid alone tripled the paint time of this plot.
        self.getAxis("left").enableAutoSIPrefix(False)
        self.getAxis("left").setWidth(48)
        self.getPlotItem().disableAutoRange()
        self._range = (0, 0.0, 0.0)
        self.legend = self.addLegend(offset=(10, 5), labelTextSize="9pt",
                                     brush=pg.mkBrush(255, 255, 255, 210), colCount=2)
        self.curves: dict[tuple[int, int], pg.PlotDataItem] = {}
        self.getPlotItem().setMenuEnabled(False)
        self.hint = pg.TextItem("Add features to the steering panel and press Generate\n"
                                "to plot their activations here.",
                                color="#666666", anchor=(0.5, 0.5))
        self.hint.setPos(0.5, 0.5)
        self.addItem(self.hint)
        for axis in ("left", "bottom"):
            self.getPlotItem().showAxis(axis, False)
        self.setToolTip("Activation of each steering feature at every generated token. "
                        "Dashed: baseline (no steering); solid: steered. Colours match the "
                        "steering panel.")

    def set_dark(self, dark: bool) -> None:
        style_plot(self, dark)

    def reset(self, record: RunRecord | None, colours: dict[int, str], label_of) -> None:
        self.clear()
        self.legend.clear()
        self.curves = {}
        self._range = (0, 0.0, 0.0)
        empty = record is None or not record.watch
        for axis in ("left", "bottom"):
            self.getPlotItem().showAxis(axis, not empty)
        if empty:
            self.addItem(self.hint)
            self.setRange(xRange=(0, 1), yRange=(0, 1), padding=0)   # the hint sits at the centre
            return
        for r, row in enumerate(record.rows):
            for feature in record.watch:
                colour = colours.get(feature, "#555555")
                pen = pg.mkPen(colour, width=2 if theme.DARK else 1,   # thick for a room
                               style=ROW_STYLES[min(r, len(ROW_STYLES) - 1)])
                name = f"#{feature} {row.name[:24]}"
                self.curves[(r, feature)] = self.plot([], [], pen=pen, name=name)

    def redraw(self, record: RunRecord) -> None:
        if not self.curves:
            return                      # nothing watched: the hint stays centred
        n, top, bottom = 0, 0.0, 0.0
        for (r, feature), curve in self.curves.items():
            ys = np.asarray(record.activation_series(r, feature), dtype=float)
            curve.setData(np.arange(len(ys)), ys)
            if len(ys):
                n, top, bottom = max(n, len(ys)), max(top, ys.max()), min(bottom, ys.min())
        # Ranges change only when the data outgrow them (x in steps, y with headroom), so
        # the axes do not re-lay out at every token.
        x_max = max(X_STEP, -(-n // X_STEP) * X_STEP)
        _, y_top, y_bottom = self._range
        if top > y_top:
            y_top = top * 1.3
        if bottom < y_bottom:
            y_bottom = bottom * 1.3
        if (x_max, y_top, y_bottom) != self._range:
            self._range = (x_max, y_top, y_bottom)
            self.setRange(xRange=(0, x_max - 1), yRange=(y_bottom, y_top or 1.0), padding=0.02)


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
        self._set_colours(False)
        self.plot.addItem(self.image)
        self.hint = pg.TextItem("After a run: the features most active on each token.",
                                color="#666666", anchor=(0.5, 0.5))
        self.hint.setPos(0.5, 0.5)
        self.plot.addItem(self.hint)
        self.plot.setToolTip("The features most active in this output, per generated token "
                             "(brighter = stronger). Only each token's top features are known.")
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
        self.matrix = np.zeros((0, 0))

    def set_dark(self, dark: bool) -> None:
        style_plot(self.plot, dark)
        self._set_colours(dark)

    def _set_colours(self, dark: bool) -> None:
        """Zero is the page colour, so the few active cells stand out, as the token tint does."""
        page = (0, 0, 0) if dark else (255, 255, 255)
        top = (255, 236, 140) if dark else (140, 30, 0)
        self.image.setColorMap(pg.ColorMap([0.0, 0.5, 1.0], [page, (255, 150, 40), top]))

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
        self.features, self.matrix = [], np.zeros((0, 0))

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
        self.hint.hide()
        self.image.setImage(m, autoLevels=True)
        axis = self.plot.getAxis("left")
        axis.setTicks([[(n + 0.5, wording.feature_name(f, self.label_of(f), width=22))
                        for n, f in enumerate(feats)]])
        step = max(1, len(tokens) // 12)
        self.plot.getAxis("bottom").setTicks(
            [[(x + 0.5, repr(tokens[x].text)[1:-1][:8]) for x in range(0, len(tokens), step)]])
        self.plot.setLimits(xMin=0, xMax=len(tokens), yMin=0, yMax=len(feats))
        self.plot.setRange(xRange=(0, len(tokens)), yRange=(0, len(feats)), padding=0)


class PlotTabs(QTabWidget):
    """The activation plot and the heatmap, as tabs. While tokens stream, the plots follow
    at half the text's rate (they cost the most to paint); a run's last frame is always
    drawn, and a hidden tab catches up when it is shown."""

    shown = Signal()                 # a tab came to the front: draw it now

    def __init__(self, parent=None):
        super().__init__(parent)
        self.activations = ActivationPlot()
        self.heatmap = HeatmapPlot()
        self.addTab(self.activations, "Activations")
        self.addTab(self.heatmap, "Top features × tokens")
        self.currentChanged.connect(lambda _: self.shown.emit())
        self._frame = 0

    def reset(self, record: RunRecord, panel_indices: list[int], label_of) -> None:
        self.activations.reset(record, colour_map(record, panel_indices), label_of)
        self.heatmap.reset(record, label_of)
        self._frame = 0

    def redraw(self, record: RunRecord) -> bool:
        """False when this frame was skipped (ask again next frame)."""
        self._frame += 1
        if self._frame % 2 and record.done is None:
            return False
        self.activations.redraw(record)
        if self.currentWidget() is self.heatmap:
            self.heatmap.redraw(record)
        return True

    def set_dark(self, dark: bool) -> None:
        self.activations.set_dark(dark)
        self.heatmap.set_dark(dark)


def colour_map(record: RunRecord | None, panel_indices: list[int]) -> dict[int, str]:
    """The same colour for a feature in the panel's swatch and in the plot."""
    colours = {i: theme.feature_colour(n) for n, i in enumerate(panel_indices)}
    if record is not None:
        extra = [i for i in record.watch if i not in colours]
        for n, i in enumerate(extra, start=len(colours)):
            colours[i] = theme.feature_colour(n)
    return colours


def style_plot(widget: pg.PlotWidget, dark: bool) -> None:
    """Presentation mode: white axes and larger text on black, thicker curves; normal: black on
    white."""
    from PySide6.QtGui import QFont

    fg = "w" if dark else "k"
    size = "15pt" if dark else "9pt"
    widget.setBackground("k" if dark else "w")
    font = QFont()
    font.setPointSize(14 if dark else 9)
    for name in ("left", "bottom"):
        axis = widget.getAxis(name)
        axis.setPen(fg)
        axis.setTextPen(fg)
        axis.setStyle(tickFont=font)
        if axis.labelText:
            axis.setLabel(axis.labelText, color="#ffffff" if dark else "#000000",
                          **{"font-size": size})
    # Room for the bigger ticks and labels (the left width is fixed, see ActivationPlot).
    if widget.getAxis("left").fixedWidth is not None:
        widget.getAxis("left").setWidth(90 if dark else 48)
    widget.getAxis("bottom").setHeight(70 if dark else None)
    item = widget.getPlotItem()
    for curve in item.listDataItems():
        pen = pg.mkPen(curve.opts["pen"])
        pen.setWidth(2 if dark else 1)
        curve.setPen(pen)
    legend = item.legend
    if legend is not None:
        legend.setBrush(pg.mkBrush(0, 0, 0, 200) if dark else pg.mkBrush(255, 255, 255, 210))
        legend.setLabelTextColor(fg)
        legend.setLabelTextSize(size)
        for _sample, label in legend.items:   # existing labels keep their look otherwise
            label.setText(label.text, color=fg, size=size)
