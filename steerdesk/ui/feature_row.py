"""One row of the steering panel: colour swatch, label, mode, strength slider, on/off, remove.
It shows a PanelRow and reports edits; it never changes the state itself."""

from __future__ import annotations

import html

from PySide6.QtCore import QEvent, Qt, QTimer, Signal
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QFrame,
    QHBoxLayout,
    QLabel,
    QToolButton,
    QVBoxLayout,
)
from superqt import QLabeledDoubleSlider

from steerdesk.ui import theme
from steerdesk.ui.panel_state import PanelRow

MODE_TIPS = {
    "add": "add: push the model toward this feature by adding its direction, scaled by the "
           "strength (negative pushes away)",
    "clamp": "clamp: hold the feature at exactly this strength, whatever the text",
    "ablate": "ablate: switch the feature off (clamp it to 0); the strength is not used",
}
RANGES = {"max": (-10.0, 10.0), "raw": (-2000.0, 2000.0)}   # raw: 10x max of the strongest pocket feature
# The percent view's range, the same for every row so that equal percents put the handles in
# the same place: up to twice the strength called 100%, either way.
PERCENT_RANGE = (-200.0, 200.0)


class FeatureRow(QFrame):
    edited = Signal(int, str, object)    # uid, field, value
    remove_clicked = Signal(int)
    drag_finished = Signal()
    focus_clicked = Signal(int)          # feature index

    def __init__(self, row: PanelRow, colour: str, unit: str, label_of=None, parent=None):
        super().__init__(parent)
        self.label_of = label_of or (lambda i: "")
        self.uid, self.index = row.uid, row.index
        self.setFrameShape(QFrame.StyledPanel)
        self.swatch = QLabel()
        self.swatch.setFixedSize(12, 28)
        self.swatch.setStyleSheet(f"background: {colour}; border-radius: 3px;")
        self.swatch.setToolTip("This feature's colour in the plots")
        self.title = QLabel()
        self.title.setTextInteractionFlags(Qt.NoTextInteraction)
        self.title.setMinimumWidth(60)
        self.title.setCursor(Qt.PointingHandCursor)
        self.title.mousePressEvent = lambda e: self.focus_clicked.emit(self.index)
        self.enabled = QCheckBox("on")
        self.enabled.setToolTip("Apply this feature's steering (untick to compare without it, "
                                "keeping its settings)")
        self.enabled.toggled.connect(lambda v: self.edited.emit(self.uid, "enabled", bool(v)))
        self.mode = QComboBox()
        self.mode.addItems(list(MODE_TIPS))
        for n, tip in enumerate(MODE_TIPS.values()):
            self.mode.setItemData(n, tip, Qt.ToolTipRole)
        self.mode.setToolTip("How to steer: " + "\n".join(MODE_TIPS.values()))
        self.mode.currentTextChanged.connect(lambda m: self.edited.emit(self.uid, "mode", m))
        self.remove = QToolButton()
        self.remove.setText("✕")
        self.remove.setToolTip("Remove this feature from the panel (Ctrl+Z brings it back)")
        self.remove.clicked.connect(lambda: self.remove_clicked.emit(self.uid))
        self.slider = QLabeledDoubleSlider(Qt.Horizontal)
        self.slider.setDecimals(2)
        self.slider.setMinimumWidth(160)
        label = getattr(self.slider, "_label", None)
        if label is not None:
            label.installEventFilter(self)
        self.factor = 1.0          # strength per slider step: 1, or 100% / 100 in percent view
        self.full_tip = ""
        self.slider.valueChanged.connect(
            lambda v: self.edited.emit(self.uid, "strength", round(float(v) * self.factor, 3)))
        self.slider.sliderReleased.connect(self.drag_finished)
        self.slider.editingFinished.connect(self.drag_finished)

        head = QHBoxLayout()
        head.addWidget(self.title, 1)
        head.addWidget(self.mode)
        head.addWidget(self.enabled)
        head.addWidget(self.remove)
        body = QVBoxLayout()
        body.setSpacing(2)
        body.addLayout(head)
        body.addWidget(self.slider)
        outer = QHBoxLayout(self)
        outer.setContentsMargins(6, 4, 6, 4)
        outer.addWidget(self.swatch)
        outer.addLayout(body, 1)
        self.set_unit(unit)
        self.show_row(row)

    def set_unit(self, unit: str, full: tuple[float, str] | None = None) -> None:
        """The slider's unit; with `full` (the strength called 100%, and why), in percent of
        it: people tuning a style think "70% friendly", not "1.4x max"."""
        lo, hi = RANGES[unit]
        self.slider.blockSignals(True)
        if full is not None and full[0] > 0:
            self.factor, self.full_tip = full[0] / 100.0, full[1]
            self.slider.setRange(*PERCENT_RANGE)
            self.slider.setSingleStep(5.0)
            self.slider.setDecimals(0)
            self._suffix("%")
            tip = ("Strength in percent. " + full[1] + ". 0% is no steering; over 100% "
                   "steers harder and the text may suffer.")
        else:
            self.factor, self.full_tip = 1.0, ""
            self.slider.setRange(lo, hi)
            self.slider.setSingleStep(0.05 if unit == "max" else 0.5)
            self.slider.setDecimals(2)
            self._suffix("")
            tip = "Strength: " + ("multiples of the feature's max activation (1 = as strong "
                                  "as it ever gets naturally)" if unit == "max" else
                                  "raw units of the SAE's activation")
        self.slider.blockSignals(False)
        self.slider.setToolTip(tip)

    def _suffix(self, text: str) -> None:
        label = getattr(self.slider, "_label", None)     # the slider's number box
        if label is not None and hasattr(label, "setSuffix"):
            label.setSuffix(text)
            if hasattr(label, "_update_size"):
                label._update_size()

    def show_row(self, row: PanelRow) -> None:
        for w in (self.slider, self.mode, self.enabled):
            w.blockSignals(True)
        label = row.label or self.label_of(row.index)
        self._title = (row.index, label)
        self._elide_title()
        self.title.setToolTip(f"{html.escape(label or 'feature')} (feature {row.index}). Click "
                              "to tint the output by this feature's activation.")
        self.slider.setValue(row.strength / self.factor)
        self.slider.setEnabled(row.mode != "ablate")
        self.mode.setCurrentText(row.mode)
        self.enabled.setChecked(row.enabled)
        for w in (self.slider, self.mode, self.enabled):
            w.blockSignals(False)

    def _elide_title(self) -> None:
        index, label = self._title
        short = self.title.fontMetrics().elidedText(label, Qt.ElideRight,
                                                    max(self.title.width() - 45, 80))
        self.title.setText(f"<b>#{index}</b> {html.escape(short)}")

    def eventFilter(self, obj, event):
        # The slider's number box is sized once, for the font of the time: at presentation
        # size its number was cut ("2.00" showed as ".00"). Resized when its own font or style
        # changes, after Qt has applied it (the parent's font event can come first).
        if event.type() in (QEvent.FontChange, QEvent.StyleChange) and \
                hasattr(obj, "_update_size"):
            QTimer.singleShot(0, obj, obj._update_size)
        return False

    def resizeEvent(self, event):
        super().resizeEvent(event)
        self._elide_title()

    def set_focused(self, focused: bool) -> None:
        self.setStyleSheet(f"FeatureRow {{ border: 2px solid {theme.ACCENT}; }}"
                           if focused else "")
