"""'Reach vs fluency': each column of a finished run as one point, its fluency (perplexity
under the unsteered model) across, its reach up (RunRecord.reach). In a sweep the steered
points, joined in strength order, show what each step of strength buys and costs; the
baseline and the prompted column are their own marked points, for comparison."""

from __future__ import annotations

from dataclasses import dataclass

import pyqtgraph as pg
from PySide6.QtWidgets import QLabel, QVBoxLayout, QWidget

from steerdesk.ui import theme
from steerdesk.ui.run_record import RunRecord

SYMBOLS = {"baseline": "s", "steered": "o", "prompted": "t"}
WAITING = "Reach against fluency, one point per column, once a run has finished."


@dataclass
class CostPoint:
    row: int
    kind: str                 # baseline, steered or prompted
    label: str                # the column's title (a sweep's: its strength); 'prompted'
    fluency: float
    reach: float


def cost_points(record: RunRecord) -> list[CostPoint]:
    """The finished run's columns that have both a fluency and a reach, in row order."""
    if record.costs is None:
        return []
    points = []
    for r, row in enumerate(record.rows):
        ppl, reach = record.costs[r]["perplexity"], record.reach(r)
        if ppl is None or reach is None:
            continue
        kind = "baseline" if r == 0 else "prompted" if r == record.prompted_row else "steered"
        # the instruction is in the legend and the header; on the plot it hid the others
        label = "prompted" if kind == "prompted" else row.name
        points.append(CostPoint(r, kind, label, ppl, reach))
    return points


class CostPlot(QWidget):
    def __init__(self, parent=None):
        super().__init__(parent)
        self.plot = pg.PlotWidget()
        self.plot.getPlotItem().setMenuEnabled(False)
        self.plot.setLabel("bottom", "fluency cost: perplexity under the unsteered model "
                                     "(lower reads more like the model's own text)")
        self.plot.setLabel("left", "reach")
        self.plot.setToolTip("Each column of the last run as one point: how strongly the "
                             "steered feature fired on average (reach, up) against how far "
                             "its text is from what the model would say (fluency, across). "
                             "Square: the baseline; triangle: the prompted column; circles: "
                             "the steered columns, joined in order of strength in a sweep")
        self.note = QLabel(WAITING)
        self.note.setObjectName("hint")
        self.note.setWordWrap(True)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.note)
        layout.addWidget(self.plot, 1)
        self.points: list[CostPoint] = []
        self._drawn: tuple[int, int] | None = None     # (record id, version) on screen

    def reset(self) -> None:
        self.plot.clear()
        self.points, self._drawn = [], None
        self.note.setText(WAITING)
        self.note.show()

    def redraw(self, record: RunRecord) -> None:
        """Draws once the record's costs are in; later calls for the same record do nothing."""
        key = (id(record), record.version)
        if record.costs is None or self._drawn == key:
            return
        self.plot.clear()
        self._drawn = key
        self.points = cost_points(record)
        if record.classifier is not None:
            self.plot.setLabel("left", f"reach: P(“{record.classifier.names[0]}”)")
        else:
            self.plot.setLabel("left", "reach (× max)" if record.reach_max is not None
                               else "reach (raw activation)")
        steered = [p for p in self.points if p.kind == "steered"]
        if len(steered) > 1:
            self.plot.plot([p.fluency for p in steered], [p.reach for p in steered],
                           pen=pg.mkPen("#999999", width=1))
        for p in self.points:
            colour = theme.column_colour(p.row)
            self.plot.plot([p.fluency], [p.reach], pen=None, symbol=SYMBOLS[p.kind],
                           symbolSize=11, symbolBrush=colour, symbolPen=colour)
            text = pg.TextItem(p.label, color=colour, anchor=(0, 1))
            text.setPos(p.fluency, p.reach)
            self.plot.addItem(text)
        self._fit()
        self.note.setText("" if self.points else
                          "No point to show: no column has both a fluency and a reach (add a "
                          "feature to the steering panel, or score the columns with a "
                          "classifier).")
        self.note.setVisible(not self.points)

    def _fit(self) -> None:
        """Room to the right and above for the labels, which start at their points."""
        if not self.points:
            return
        xs, ys = [p.fluency for p in self.points], [p.reach for p in self.points]
        dx = max(max(xs) - min(xs), 1.0)
        dy = max(max(ys) - min(ys), 0.1)
        self.plot.setXRange(min(xs) - 0.08 * dx, max(xs) + 0.3 * dx, padding=0)
        self.plot.setYRange(min(ys) - 0.1 * dy, max(ys) + 0.2 * dy, padding=0)
