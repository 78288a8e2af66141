"""One steering vector's row in the steering panel: its name, on/off, remove, and a strength
slider in multiples of its typical activation ("x typical"), whatever the panel's unit. It
shows a PanelRow and reports edits, as FeatureRow does; it never changes the state itself."""

from __future__ import annotations

import html

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import QCheckBox, QFrame, QHBoxLayout, QLabel, QToolButton, QVBoxLayout
from superqt import QLabeledDoubleSlider

from steerdesk.ui.panel_state import PanelRow
from steerdesk.ui.wording import TYPICAL_TIP

# Real models need tens: one typical activation along one direction is small beside the
# size of the whole activation.
RANGE = (-100.0, 100.0)
UNIT = "× typical"


class VectorRow(QFrame):
    edited = Signal(int, str, object)    # uid, field, value
    remove_clicked = Signal(int)
    drag_finished = Signal()
    focus_clicked = Signal(int)          # never sent: a vector tints no tokens

    def __init__(self, row: PanelRow, colour: str, parent=None):
        super().__init__(parent)
        self.uid, self.index = row.uid, -1
        self.setFrameShape(QFrame.StyledPanel)
        swatch = QLabel()
        swatch.setFixedSize(12, 28)
        swatch.setStyleSheet(f"background: {colour}; border-radius: 3px;")
        self.title = QLabel()
        self.title.setTextFormat(Qt.RichText)
        self.enabled = QCheckBox("on")
        self.enabled.setToolTip("Apply this steering vector (untick to compare without it, "
                                "keeping its strength)")
        self.enabled.toggled.connect(lambda v: self.edited.emit(self.uid, "enabled", bool(v)))
        self.remove = QToolButton()
        self.remove.setText("✕")
        self.remove.setToolTip("Remove this steering vector from the panel (Ctrl+Z brings it "
                               "back)")
        self.remove.clicked.connect(lambda: self.remove_clicked.emit(self.uid))
        self.slider = QLabeledDoubleSlider(Qt.Horizontal)
        self.slider.setDecimals(2)
        self.slider.setMinimumWidth(160)
        self.slider.setRange(*RANGE)
        self.slider.setSingleStep(0.1)
        self.slider.setToolTip(TYPICAL_TIP)
        self.slider.valueChanged.connect(
            lambda v: self.edited.emit(self.uid, "strength", round(float(v), 2)))
        self.slider.sliderReleased.connect(self.drag_finished)
        self.slider.editingFinished.connect(self.drag_finished)
        self.unit = QLabel(UNIT)
        self.unit.setToolTip(TYPICAL_TIP)

        head = QHBoxLayout()
        head.addWidget(self.title, 1)
        head.addWidget(self.enabled)
        head.addWidget(self.remove)
        strength = QHBoxLayout()
        strength.addWidget(self.slider, 1)
        strength.addWidget(self.unit)
        body = QVBoxLayout()
        body.setSpacing(2)
        body.addLayout(head)
        body.addLayout(strength)
        outer = QHBoxLayout(self)
        outer.setContentsMargins(6, 4, 6, 4)
        outer.addWidget(swatch)
        outer.addLayout(body, 1)
        self.show_row(row)

    def set_unit(self, unit: str) -> None:
        """The panel's unit is for features; a vector's strength stays in x typical."""

    def set_focused(self, focused: bool) -> None:
        """Vectors have no activation to tint the text by."""

    def show_row(self, row: PanelRow) -> None:
        for w in (self.slider, self.enabled):
            w.blockSignals(True)
        v = row.vector
        self.title.setText(f"<b>vector</b> {html.escape(v.name)}")
        self.title.setToolTip(
            f"A steering vector built from examples at {html.escape(v.hook or 'the hook')}: "
            f"{v.n_tokens[0]} tokens of the concept against {v.n_tokens[1]} without it; one "
            f"typical activation along it is {v.typical:.4g}")
        self.slider.setValue(row.strength)
        self.enabled.setChecked(row.enabled)
        for w in (self.slider, self.enabled):
            w.blockSignals(False)
