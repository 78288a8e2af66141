"""Live plots: the steered features' activation per generated token, one colour per output
column (the colour of its header; the baseline black), one line style per feature, in the
slider's unit; and a heatmap of the top features x tokens of one output (heatmap_plot.py).
They redraw from the RunRecord when the window's frame timer says so, never per event."""

from __future__ import annotations

import html

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import QLabel, QTabWidget, QVBoxLayout, QWidget

from steerdesk.ui import theme, wording
from steerdesk.ui.cost_plot import CostPlot
from steerdesk.ui.heatmap_plot import HeatmapPlot
from steerdesk.ui.run_record import RunRecord

# One line style per steered feature (a column's lines share its colour).
FEATURE_STYLES = [Qt.SolidLine, Qt.DashLine, Qt.DotLine, Qt.DashDotLine, Qt.DashDotDotLine]
STYLE_GLYPHS = ["━━", "╍╍", "┅┅", "━┅", "━┅┅"]   # the same, in the legend's text

# Antialiased lines cost more to paint than everything else in the window put together while
# tokens stream (measured: the event loop fell ~90 ms behind); plain lines keep it near zero.
pg.setConfigOptions(antialias=False, background="w", foreground="k")
X_STEP = 32            # while tokens stream, the x range grows in steps (fewer re-layouts)


def y_scale(unit: str, max_acts, watch: list[int]) -> dict[int, float]:
    """What each watched feature's raw activation is divided by to be in the slider's unit:
    its max activation for 'x max' (where the catalog has one), else 1."""
    out = {}
    for i in watch:
        peak = float(max_acts[i]) if unit == "max" and max_acts is not None else 0.0
        out[i] = peak if peak > 0 else 1.0
    return out


class ActivationPlot(QWidget):
    """A legend above the plot (never on the data), the plot, and a readout of the values
    under the mouse in the slider's unit and raw."""

    def __init__(self, parent=None):
        super().__init__(parent)
        self.plot = pg.PlotWidget()
        self.plot.setLabel("bottom", "generated token")
        self.plot.setLabel("left", "activation")
        # No grid and plain pens: a grid alone tripled the paint time of this plot.
        self.plot.getAxis("left").enableAutoSIPrefix(False)
        self.plot.getAxis("left").setWidth(48)
        self.plot.getPlotItem().disableAutoRange()
        self.plot.getPlotItem().setMenuEnabled(False)
        self.legend = QLabel()
        self.legend.setObjectName("plotLegend")
        self.legend.setWordWrap(True)
        self.legend.setTextFormat(Qt.RichText)
        self.readout = QLabel(" ")
        self.readout.setObjectName("hint")
        self.readout.setTextFormat(Qt.RichText)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(2)
        layout.addWidget(self.legend)
        layout.addWidget(self.plot, 1)
        layout.addWidget(self.readout)
        self._range = (0, 0.0, 0.0)
        self.curves: dict[tuple[int, int], pg.PlotDataItem] = {}
        self.bands: dict[int, list] = {}      # row -> [((start, end), band item)]
        self.scale: dict[int, float] = {}
        self.unit = "raw"
        self._record: RunRecord | None = None
        self.label_of = lambda i: None
        self.hint = pg.TextItem("Add features to the steering panel and press Generate\n"
                                "to plot their activations here.",
                                color="#666666", anchor=(0.5, 0.5))
        self.hint.setPos(0.5, 0.5)
        self.plot.addItem(self.hint)
        for axis in ("left", "bottom"):
            self.plot.getPlotItem().showAxis(axis, False)
        self.legend.hide()
        self.plot.setToolTip("Activation of each steered feature at every generated token, in "
                             "the slider's unit. One colour per output column, as in its "
                             "header (black: the baseline, no steering); one line style per "
                             "feature. Point at the plot for the values.")
        self.plot.scene().sigMouseMoved.connect(self._hover)

    def set_dark(self, dark: bool) -> None:
        style_plot(self.plot, dark)
        if self._record is not None:   # the baseline's colour follows the page
            self.reset(self._record, self.label_of, self.scale, self.unit)
            self.redraw(self._record)

    def reset(self, record: RunRecord | None, label_of, scale: dict[int, float] | None = None,
              unit: str = "raw") -> None:
        self.plot.clear()
        self.curves = {}
        self.bands = {}
        self._range = (0, 0.0, 0.0)
        self._record, self.label_of, self.unit = record, label_of, unit
        empty = record is None or not record.watch
        self.scale = {i: 1.0 for i in (record.watch if record else [])} | dict(scale or {})
        for axis in ("left", "bottom"):
            self.plot.getPlotItem().showAxis(axis, not empty)
        self.legend.setVisible(not empty)
        self.readout.setText(" ")
        if empty:
            self.plot.addItem(self.hint)
            self.plot.setRange(xRange=(0, 1), yRange=(0, 1), padding=0)   # hint at the centre
            return
        in_max = unit == "max"
        # At presentation size the long title did not fit the plot's height: the unit alone
        # (the tab says what is plotted).
        unit_words = "× max" if in_max else "raw"
        self.plot.setLabel("left", unit_words if theme.DARK else f"activation ({unit_words})")
        width = 3 if theme.DARK else 2        # thick enough to read across a room
        for r, _row in enumerate(record.rows):
            for n, feature in enumerate(record.watch):
                pen = pg.mkPen(theme.column_colour(r), width=width,
                               style=FEATURE_STYLES[n % len(FEATURE_STYLES)])
                self.curves[(r, feature)] = self.plot.plot([], [], pen=pen)
        self.legend.setText(self.legend_html(record))

    def legend_html(self, record: RunRecord) -> str:
        cols = " &nbsp; ".join(
            f"<span style='color:{theme.column_colour(r)}'>━━</span> {html.escape(row.name)}"
            for r, row in enumerate(record.rows))
        if len(record.watch) < 2:
            return cols
        feats = " &nbsp; ".join(
            f"{STYLE_GLYPHS[n % len(STYLE_GLYPHS)]} "
            f"{html.escape(wording.feature_name(i, self.label_of(i), width=28))}"
            for n, i in enumerate(record.watch))
        return f"{cols}<br>{feats}"

    def redraw(self, record: RunRecord) -> None:
        if not self.curves:
            return                      # nothing watched: the hint stays centred
        n, top, bottom = 0, 0.0, 0.0
        for (r, feature), curve in self.curves.items():
            ys = np.asarray(record.activation_series(r, feature), dtype=float)
            ys = ys / self.scale.get(feature, 1.0)
            curve.setData(np.arange(len(ys)), ys)
            if len(ys):
                n, top, bottom = max(n, len(ys)), max(top, ys.max()), min(bottom, ys.min())
        self._draw_bands(record)
        # While streaming, ranges change only when the data outgrow them (x in steps, y with
        # headroom), so the axes do not re-lay out at every token; at the end x is exactly
        # the tokens generated.
        if record.done is not None:
            x_max = max(n, 2)
        else:
            x_max = max(X_STEP, -(-n // X_STEP) * X_STEP)
        _, y_top, y_bottom = self._range
        if top > y_top:
            y_top = top * 1.15
        if bottom < y_bottom:
            y_bottom = bottom * 1.15
        if (x_max, y_top, y_bottom) != self._range:
            self._range = (x_max, y_top, y_bottom)
            self.plot.setRange(xRange=(0, x_max - 1), yRange=(y_bottom, y_top or 1.0),
                               padding=0.02)

    def _draw_bands(self, record: RunRecord) -> None:
        """A shaded band in the column's colour over each run of tokens a rule steered;
        only a row whose runs changed is drawn again."""
        for r in range(len(record.rows)):
            spans = record.acting_spans(r)
            old = self.bands.get(r, [])
            if [s for s, _ in old] == spans:
                continue
            for _s, item in old:
                self.plot.removeItem(item)
            colour = pg.mkColor(theme.column_colour(r))
            colour.setAlpha(45)
            made = []
            for start, end in spans:
                item = pg.LinearRegionItem((start - 0.5, end - 0.5), movable=False,
                                           brush=colour, pen=pg.mkPen(None))
                item.setZValue(-10)          # behind the curves
                item.setToolTip(f"{record.rows[r].name}: a rule steered tokens {start + 1}"
                                f"–{end}")
                self.plot.addItem(item)
                made.append(((start, end), item))
            self.bands[r] = made

    def x_range(self) -> tuple[float, float]:
        return tuple(self.plot.getPlotItem().vb.viewRange()[0])

    def values_at(self, token: int) -> str:
        """The readout for one token: every column's value of every feature, in the slider's
        unit and raw."""
        record = self._record
        if record is None or not self.curves:
            return ""
        parts = []
        for r, row in enumerate(record.rows):
            if token >= len(row.tokens):
                continue
            for feature in record.watch:
                raw = record.activation_series(r, feature)[token]
                scale = self.scale.get(feature, 1.0)
                value = (f"{raw / scale:.2f}× max ({raw:.1f} raw)" if self.unit == "max"
                         else f"{raw:.2f}")
                who = row.name if len(record.watch) < 2 else f"{row.name} #{feature}"
                parts.append(f"<span style='color:{theme.column_colour(r)}'>■</span> "
                             f"{html.escape(who)}: {value}")
        if not parts:
            return ""
        return f"token {token + 1}: " + " &nbsp; ".join(parts)

    def _hover(self, pos) -> None:
        if not self.curves:
            return
        x = self.plot.getPlotItem().vb.mapSceneToView(pos).x()
        text = self.values_at(int(round(x))) if x >= -0.5 else ""
        self.readout.setText(text or " ")


class PlotTabs(QTabWidget):
    """The activation plot, the heatmap and reach vs fluency, as tabs. While tokens stream, the plots follow
    at half the text's rate (they cost the most to paint); a run's last frame is always
    drawn, and a hidden tab catches up when it is shown."""

    shown = Signal()                 # a tab came to the front: draw it now

    def __init__(self, parent=None):
        super().__init__(parent)
        self.activations = ActivationPlot()
        self.heatmap = HeatmapPlot()
        self.addTab(self.activations, "Activations")
        self.addTab(self.heatmap, "Top features × tokens")
        self.costs = CostPlot()
        self.addTab(self.costs, "Reach vs fluency")
        self.currentChanged.connect(lambda _: self.shown.emit())
        self._frame = 0

    def reset(self, record: RunRecord, label_of, scale: dict[int, float] | None = None,
              unit: str = "raw") -> None:
        """`scale`, `unit`: see `y_scale`; the y axis is in the slider's unit."""
        self.activations.reset(record, label_of, scale, unit)
        self.heatmap.reset(record, label_of)
        self.costs.reset()
        self._frame = 0

    def redraw(self, record: RunRecord) -> bool:
        """False when this frame was skipped (ask again next frame)."""
        self._frame += 1
        if self._frame % 2 and record.done is None:
            return False
        self.activations.redraw(record)
        if self.currentWidget() is self.heatmap:
            self.heatmap.redraw(record)
        self.costs.redraw(record)       # draws once, when the run's costs come in
        return True

    def set_dark(self, dark: bool) -> None:
        self.activations.set_dark(dark)
        self.heatmap.set_dark(dark)
        style_plot(self.costs.plot, dark)


def style_plot(widget: pg.PlotWidget, dark: bool) -> None:
    """Presentation mode: white axes and twice the text on black, thicker curves; normal:
    black on white."""
    from PySide6.QtGui import QFont

    fg = "w" if dark else "k"
    size = "18pt" if dark else "9pt"
    widget.setBackground("k" if dark else "w")
    font = QFont()
    font.setPointSize(18 if dark else 9)
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
        widget.getAxis("left").setWidth(110 if dark else 48)
    widget.getAxis("bottom").setHeight(84 if dark else None)
    # Curves are drawn again by their owners with the new widths; bars (the feature card's
    # histogram) have no setPen and keep their own look.
    for curve in widget.getPlotItem().listDataItems():
        if isinstance(curve, pg.PlotDataItem):
            pen = pg.mkPen(curve.opts["pen"])
            pen.setWidth(3 if dark else 2)
            curve.setPen(pen)
