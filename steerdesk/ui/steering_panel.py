"""The steering panel: the chosen features as rows, the unit, presets, undo/redo. Features
arrive by drag and drop from the feature list, or through `add_feature`."""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QScrollArea,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from steerdesk.ui import theme
from steerdesk.ui.controller import Controller
from steerdesk.ui.feature_row import FeatureRow
from steerdesk.ui.feature_table import MIME
from steerdesk.ui.vector_row import VectorRow
from steerdesk.ui.rule_editor import RuleEditor

EMPTY = ("<b>No steering yet.</b><br>Double-click a feature in the list, drag it here, or "
         "press <i>Add to steering</i> on its card. Then move its slider and press "
         "<b>Generate</b> (Ctrl+Enter).")

RULES_ONLY = ("No feature steers all the time; the rules below steer when they hold. Add a "
              "feature here (double-click it in the list) to steer it throughout.")


class SteeringPanel(QWidget):
    def __init__(self, controller: Controller, parent=None):
        super().__init__(parent)
        self.c = controller
        self.state = controller.panel
        self.rows: dict[int, FeatureRow | VectorRow] = {}
        self.setAcceptDrops(True)

        self.name = QLineEdit(self.state.name)
        self.name.setPlaceholderText("preset name")
        self.name.setToolTip("The name this steering gets when you save it as a preset")
        self.name.editingFinished.connect(lambda: self.state.set_name(self.name.text().strip()
                                                                      or "my steering"))
        self.unit = QComboBox()
        self.unit.addItem("× max activation", "max")
        self.unit.addItem("raw", "raw")
        self.unit.setToolTip("Strength unit. × max activation: 1 means as strong as the feature "
                             "ever gets on its own (needs a catalog). raw: the SAE's own units.")
        self.unit.currentIndexChanged.connect(
            lambda _: self.c.editor.set_unit(self.unit.currentData()))
        self.percent = QCheckBox("in %")
        self.percent.setToolTip("Show each strength in percent (-200% to +200%), where 100% is "
                                "the strength at which that feature reliably steers: measured "
                                "by the SAE's calibration sweep, else its strength in the "
                                "preset loaded; hover a slider to see what 100% is")
        self.percent.toggled.connect(lambda _: self._unit_changed(self.state.unit))
        self.undo_button = self._tool("↶", "Undo the last panel change (Ctrl+Z)",
                                      self.c.undo.undo)
        self.redo_button = self._tool("↷", "Redo (Ctrl+Shift+Z)", self.c.undo.redo)
        self.c.undo.canUndoChanged.connect(self.undo_button.setEnabled)
        self.c.undo.canRedoChanged.connect(self.redo_button.setEnabled)
        self.undo_button.setEnabled(False)
        self.redo_button.setEnabled(False)
        self.clear_button = self._tool("Clear", "Remove every feature, steering vector and "
                                       "rule from the panel (Ctrl+Z brings them back)",
                                       self.c.editor.clear)

        self.presets_button = QToolButton()
        self.presets_button.setText("Presets")
        self.presets_button.setToolTip("Save this steering as a preset file, load one, or pick "
                                       "a preset that ships with the pack")
        self.presets_button.setPopupMode(QToolButton.InstantPopup)

        head = QHBoxLayout()
        title = QLabel("<b>Steering</b>")
        head.addWidget(title)
        head.addStretch(1)
        head.addWidget(self.undo_button)
        head.addWidget(self.redo_button)
        head.addWidget(self.clear_button)
        head.addWidget(self.presets_button)

        settings = QHBoxLayout()
        self.name_label = name_label = QLabel("Name")
        name_label.setToolTip(self.name.toolTip())
        settings.addWidget(name_label)
        settings.addWidget(self.name, 1)
        self.unit_label = unit_label = QLabel("Unit")
        unit_label.setToolTip(self.unit.toolTip())
        settings.addWidget(unit_label)
        settings.addWidget(self.unit)
        settings.addWidget(self.percent)

        self.empty = QLabel(EMPTY)
        self.empty.setWordWrap(True)
        self.empty.setAlignment(Qt.AlignCenter)
        self.empty.setObjectName("hint")
        self.empty.setMinimumHeight(80)
        self.list_widget = QWidget()
        self.list_layout = QVBoxLayout(self.list_widget)
        self.list_layout.setContentsMargins(0, 0, 0, 0)
        self.list_layout.setSpacing(4)
        self.list_layout.addWidget(self.empty)
        self.list_layout.addStretch(1)
        self.scroll = scroll = QScrollArea()
        scroll.setWidgetResizable(True)
        scroll.setWidget(self.list_widget)
        scroll.setFrameShape(QScrollArea.NoFrame)

        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addLayout(head)
        layout.addLayout(settings)
        layout.addWidget(scroll, 1)
        # Rules: conditional steering of the same variant, as sentences (rule_editor.py).
        self.rules = RuleEditor(self.c.label)
        self.rules.suggest = self._rule_start
        self.rules.rules_changed.connect(self.c.editor.set_rules)   # one undo step each
        self.state.rules_changed.connect(lambda: self.rules.set_rules(self.state.rules))
        self.state.rules_changed.connect(self._show_empty)
        self.c.session_opened.connect(lambda s: self.rules.set_sae(self.c.label, s.sae.d_sae))
        layout.addWidget(self.rules)

        self.state.rows_changed.connect(self.rebuild)
        self.state.row_changed.connect(self._row_changed)
        self.state.unit_changed.connect(self._unit_changed)
        self.state.name_changed.connect(lambda n: self.name.setText(n))
        self.c.focus_changed.connect(self._focus_changed)
        self._unit_changed(self.state.unit)
        self.rebuild()

    def _rule_start(self) -> tuple[int, int] | None:
        """A new rule watches the feature in view and steers the panel's first feature (each
        standing in for the other where there is only one), not #0."""
        steered = self.state.indices()
        seen = self.c.focus if self.c.focus >= 0 else None
        first = steered[0] if steered else None
        if seen is None and first is None:
            return None
        return (seen if seen is not None else first, first if first is not None else seen)

    def presentation_hidden(self) -> list[QWidget]:
        """What presentation mode hides here: preparing tools, not what the audience needs
        (the rows and their sliders); at 2x text they pushed the pane off the screen."""
        return [self.name_label, self.name, self.unit_label, self.unit, self.percent,
                self.redo_button, self.clear_button, self.presets_button, self.rules]

    def content_height(self) -> int:
        """The height that shows the header and every row without scrolling."""
        rows = self.list_widget.sizeHint().height()
        frame = self.scroll.height() - self.scroll.viewport().height()
        return self.scroll.y() + rows + frame + 8 + self.rules.sizeHint().height()

    def _tool(self, text, tip, slot) -> QToolButton:
        b = QToolButton()
        b.setText(text)
        b.setToolTip(tip)
        b.clicked.connect(slot)
        return b

    def set_max_unit_allowed(self, allowed: bool) -> None:
        item = self.unit.model().item(0)
        item.setEnabled(allowed)
        item.setToolTip("" if allowed else "Needs a feature catalog (max activations); build "
                        "one with steerdesk catalog build")

    def set_presets_menu(self, menu) -> None:
        self.presets_button.setMenu(menu)

    def add_feature(self, index: int) -> None:
        self.c.add_feature(index)

    def _label(self, index: int) -> str:
        """The catalog's label where the row carries none (presets may leave it out)."""
        return self.c.label(index) or ""

    def rebuild(self) -> None:
        for w in self.rows.values():
            w.setParent(None)
            w.deleteLater()
        self.rows = {}
        for n, row in enumerate(self.state.rows):
            if row.is_vector:
                w = VectorRow(row, theme.feature_colour(n))
            else:
                w = FeatureRow(row, theme.feature_colour(n), self.state.unit, self._label)
                w.set_unit(self.state.unit, self._full(row.index))
                w.show_row(row)
            w.edited.connect(self.c.editor.set)
            w.remove_clicked.connect(self.c.editor.remove)
            w.drag_finished.connect(self.c.editor.end_drag)
            w.focus_clicked.connect(self.c.set_focus)
            w.set_focused(not row.is_vector and row.index == self.c.focus)
            self.list_layout.insertWidget(self.list_layout.count() - 1, w)
            self.rows[row.uid] = w
        self._show_empty()

    def _show_empty(self) -> None:
        """The empty panel's hint: how to add a feature, or, with rules alone, that they steer."""
        self.empty.setText(RULES_ONLY if self.state.rules else EMPTY)
        self.empty.setVisible(not self.state.rows)

    def _row_changed(self, uid: int) -> None:
        row, w = self.state.row(uid), self.rows.get(uid)
        if row is not None and w is not None:
            w.show_row(row)

    def _unit_changed(self, unit: str) -> None:
        self.unit.blockSignals(True)
        self.unit.setCurrentIndex(0 if unit == "max" else 1)
        self.unit.blockSignals(False)
        for uid, w in self.rows.items():
            if isinstance(w, FeatureRow):      # a vector's strength is in x typical always
                w.set_unit(unit, self._full(w.index))
            w.show_row(self.state.row(uid))

    def _full(self, index: int) -> tuple[float, str] | None:
        """The strength the percent view calls 100% (None: the view is off, or unknown)."""
        return self.c.full_strength(index) if self.percent.isChecked() else None

    def _focus_changed(self, index: int) -> None:
        for w in self.rows.values():
            w.set_focused(w.index == index)

    # -- drag and drop from the feature list ---------------------------------------------------
    def dragEnterEvent(self, event):
        if event.mimeData().hasFormat(MIME):
            event.acceptProposedAction()

    def dropEvent(self, event):
        data = bytes(event.mimeData().data(MIME)).decode()
        for part in data.split(","):
            if part.strip().isdigit():
                self.add_feature(int(part))
        event.acceptProposedAction()
