"""Rules under the steering panel, written as sentences of pickers, never as syntax:

    When [a feature #12] is [above] [3.5] [raw]
    then [add] [#40] [8] [raw] for [5 tokens / as long as it holds]

Each row makes one engine Rule (engine/rules.py); the editor hands the valid ones to the
panel, which gives them to the steered variant. A row that is not a rule yet (an empty word,
a classifier not chosen) is left out and says why. Each edit goes to the panel's undo stack
(panel_commands.SetRules) with words for it and a key that lets one field's edits merge."""

from __future__ import annotations

import itertools

from PySide6.QtCore import Signal
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QDoubleSpinBox,
    QFileDialog,
    QFrame,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPushButton,
    QSizePolicy,
    QSpinBox,
    QStackedWidget,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from steerdesk.engine.errors import InputError
from steerdesk.engine.rules import ClassifierCondition, FeatureCondition, Rule, TextCondition
from steerdesk.engine.steering import FeatureSteer

KINDS = (("a feature", "feature"), ("the classifier", "classifier"), ("the text so far", "text"))
ACTIONS = (("add to", "add"), ("clamp", "clamp"), ("ablate", "ablate"), ("stop", "stop"))
UNITS = (("raw", "raw"), ("× max", "max"))
_row_ids = itertools.count(1)
HELP = ("Rules steer only when something happens. When the condition holds at a token, the "
        "action steers the next tokens (or stops the column). They belong to the steered "
        "column(s); the baseline never uses them.")


def _combo(items, tip: str = "") -> QComboBox:
    box = QComboBox()
    for words, key in items:
        box.addItem(words, key)
    box.setToolTip(tip)
    return box


def _set(box: QComboBox, key) -> None:
    box.setCurrentIndex(max(0, box.findData(key)))


def _number(low: float, high: float, value: float, decimals: int = 2) -> QDoubleSpinBox:
    spin = QDoubleSpinBox()
    spin.setRange(low, high)
    spin.setDecimals(decimals)
    spin.setValue(value)
    return spin


class FeaturePicker(QWidget):
    """A feature by number, with its label beside it."""

    changed = Signal()

    def __init__(self, label_of, d_sae: int, parent=None):
        super().__init__(parent)
        self.label_of = label_of
        self.spin = QSpinBox()
        self.spin.setPrefix("#")
        self.spin.setRange(0, max(0, d_sae - 1))
        self.spin.setToolTip("The feature's number (its label is shown beside it)")
        self.name = QLabel()
        self.name.setObjectName("hint")
        self.spin.valueChanged.connect(self._changed)
        layout = QHBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.spin)
        layout.addWidget(self.name)
        self._changed()

    def index(self) -> int:
        return self.spin.value()

    def set_index(self, index: int) -> None:
        self.spin.setValue(index)

    def _changed(self) -> None:
        label = self.label_of(self.index()) or ""
        self.name.setText(label[:18] + ("…" if len(label) > 18 else ""))
        self.name.setToolTip(label)
        self.changed.emit()


class RuleRow(QFrame):
    """One rule as a sentence."""

    changed = Signal(str)                 # which field changed (the undo merge key's half)
    remove_clicked = Signal(object)       # this row

    def __init__(self, label_of, d_sae: int, parent=None):
        super().__init__(parent)
        self.setFrameShape(QFrame.StyledPanel)
        self.uid = next(_row_ids)         # stable while the row lives: undo merges by it
        self.kind = _combo(KINDS, "What the rule watches")
        # the condition, one page per kind
        self.feature = FeaturePicker(label_of, d_sae)
        self.op = _combo((("is above", ">"), ("is below", "<")),
                         "The feature as the model computes it at the SAE's hook, before the "
                         "panel's steering is added there (so a feature the panel adds does "
                         "not hold its own rule)")
        self.value = _number(-1e6, 1e6, 1.0)
        self.value_unit = _combo(UNITS, "raw: the SAE's own units. × max: a multiple of the "
                                 "feature's largest activation (needs a catalog)")
        self.classifier = QLineEdit()
        self.classifier.setPlaceholderText("a classifier file (Tools > Classifier from examples)")
        self.choose = QPushButton("Choose…")
        self.choose.clicked.connect(self.choose_classifier)
        self.clf_names = QLabel()       # the chosen classifier's two sides, once read
        self.clf_names.setObjectName("hint")
        self.classifier.editingFinished.connect(self.read_classifier)
        self.clf_op = _combo((("says its first side above", ">"),
                              ("says its first side below", "<")))
        self.chance = _number(0.0, 100.0, 80.0, 0)
        self.chance.setSuffix("% sure")
        self.word = QLineEdit()
        self.word.setPlaceholderText("a word")
        self.regex = QCheckBox("pattern")
        self.regex.setToolTip("Off: the whole word, in any case. On: a pattern (a Python "
                              "regular expression), e.g. br[iy]dge")
        self.pages = QStackedWidget()
        for lines in (((self.feature,), (self.op, self.value, self.value_unit)),
                      ((self.classifier, self.choose), (self.clf_names,),
                       (self.clf_op, self.chance)),
                      ((QLabel("has"), self.word, self.regex),)):
            page = QWidget()
            column = QVBoxLayout(page)
            column.setContentsMargins(0, 0, 0, 0)
            column.setSpacing(2)
            for widgets in lines:
                row = QHBoxLayout()
                for w in widgets:
                    row.addWidget(w)
                row.addStretch(1)
                column.addLayout(row)
            self.pages.addWidget(page)
        self.kind.currentIndexChanged.connect(self._show_page)
        self._show_page(0)
        # the action
        self.action = _combo(ACTIONS, "add: push the feature by the strength. clamp: hold it "
                             "at the strength. ablate: switch it off. stop: end the column")
        self.target = FeaturePicker(label_of, d_sae)
        self.strength = _number(-1e4, 1e4, 4.0)
        self.strength_unit = _combo(UNITS, self.value_unit.toolTip())
        self.span = _combo((("as long as it holds", "held"), ("tokens", "n")),
                           "After each token where the condition holds: the next token only "
                           "(so, for as long as it holds), or that many tokens")
        self.tokens = QSpinBox()
        self.tokens.setRange(1, 65536)
        self.tokens.setValue(5)
        self.remove = QToolButton()
        self.remove.setText("✕")
        self.remove.setToolTip("Remove this rule")
        self.remove.clicked.connect(lambda: self.remove_clicked.emit(self))
        self.problem = QLabel()
        self.problem.setObjectName("hint")
        self.problem.setWordWrap(True)
        self.action.currentIndexChanged.connect(self._show_action)
        self.span.currentIndexChanged.connect(self._show_action)

        # Four short lines, not two long ones: side by side they made the panel 614 pixels
        # wide, and the splitter took that from the feature list.
        when = QHBoxLayout()
        when.addWidget(QLabel("When"))
        when.addWidget(self.kind)
        when.addStretch(1)
        when.addWidget(self.remove)
        then = QHBoxLayout()
        then.addWidget(QLabel("then"))
        self.for_label = QLabel("for")
        for w in (self.action, self.target):
            then.addWidget(w)
        then.addStretch(1)
        how = QHBoxLayout()
        how.setContentsMargins(16, 0, 0, 0)
        for w in (self.strength, self.strength_unit, self.for_label, self.tokens, self.span):
            how.addWidget(w)
        how.addStretch(1)
        self.pages.setContentsMargins(16, 0, 0, 0)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(4, 4, 4, 4)
        layout.setSpacing(2)
        layout.addLayout(when)
        layout.addWidget(self.pages)
        layout.addLayout(then)
        layout.addLayout(how)
        layout.addWidget(self.problem)
        for key, signal in (
                ("kind", self.kind.currentIndexChanged), ("op", self.op.currentIndexChanged),
                ("value", self.value.valueChanged),
                ("value_unit", self.value_unit.currentIndexChanged),
                ("classifier", self.classifier.textChanged),
                ("clf_op", self.clf_op.currentIndexChanged),
                ("chance", self.chance.valueChanged), ("word", self.word.textChanged),
                ("regex", self.regex.toggled), ("action", self.action.currentIndexChanged),
                ("strength", self.strength.valueChanged),
                ("strength_unit", self.strength_unit.currentIndexChanged),
                ("span", self.span.currentIndexChanged), ("tokens", self.tokens.valueChanged),
                ("feature", self.feature.changed), ("target", self.target.changed)):
            signal.connect(lambda *_, k=key: self.changed.emit(k))
        self._show_action()

    def _show_page(self, n: int) -> None:
        """The condition's page, and only its size: the stack is as tall as its tallest page
        otherwise (the classifier's three lines under a feature's two)."""
        for k in range(self.pages.count()):
            self.pages.widget(k).setSizePolicy(
                QSizePolicy.Preferred if k == n else QSizePolicy.Ignored,
                QSizePolicy.Preferred if k == n else QSizePolicy.Ignored)
        self.pages.setCurrentIndex(n)
        self.pages.adjustSize()

    def _show_action(self) -> None:
        act = self.action.currentData()
        self.target.setVisible(act != "stop")
        self.strength.setVisible(act in ("add", "clamp"))
        self.strength_unit.setVisible(act in ("add", "clamp"))
        for w in (self.for_label, self.span):
            w.setVisible(act != "stop")
        self.tokens.setVisible(act != "stop" and self.span.currentData() == "n")

    def choose_classifier(self) -> None:
        path, _ = QFileDialog.getOpenFileName(self, "Choose a classifier", "",
                                              "Classifiers (*.json)")
        if path:
            self.classifier.setText(path)
            self.read_classifier()

    def read_classifier(self) -> None:
        """Name the classifier's first side beside it, or say why the file does not read."""
        from steerdesk.engine.catalog import Classifier

        path = self.classifier.text().strip()
        if not path:
            self.clf_names.setText("")
            return
        try:
            clf = Classifier.load(path)
        except InputError as exc:
            self.clf_names.setText("")
            self.problem.setText(exc.message)
            self.problem.show()
            return
        self.clf_names.setText(f"(first side: “{clf.names[0]}”, other: “{clf.names[1]}”)")

    def condition(self):
        kind = self.kind.currentData()
        if kind == "feature":
            return FeatureCondition(self.feature.index(), self.op.currentData(),
                                    self.value.value(), self.value_unit.currentData())
        if kind == "classifier":
            return ClassifierCondition(self.classifier.text().strip(),
                                       self.chance.value() / 100.0, self.clf_op.currentData())
        return TextCondition(self.word.text().strip(), self.regex.isChecked())

    def rule(self) -> Rule:
        """The row as a Rule; InputError (from the engine's checks) when it is not one yet."""
        act = self.action.currentData()
        if act == "stop":
            return Rule(self.condition(), "stop")
        steer = FeatureSteer(self.target.index(), self.strength.value() if act != "ablate"
                             else 0.0, act)
        n = self.tokens.value() if self.span.currentData() == "n" else None
        return Rule(self.condition(), (steer,), self.strength_unit.currentData(), n)

    def show_rule(self, rule: Rule) -> None:
        """Set the pickers from a Rule (a preset's, a restored session's)."""
        c = rule.condition
        if isinstance(c, FeatureCondition):
            _set(self.kind, "feature")
            self.feature.set_index(c.index)
            _set(self.op, c.op)
            self.value.setValue(c.value)
            _set(self.value_unit, c.unit)
        elif isinstance(c, ClassifierCondition):
            _set(self.kind, "classifier")
            self.classifier.setText(c.path)
            self.read_classifier()
            _set(self.clf_op, c.op)
            self.chance.setValue(100.0 * c.value)
        else:
            _set(self.kind, "text")
            self.word.setText(c.pattern)
            self.regex.setChecked(c.regex)
        if rule.stops:
            _set(self.action, "stop")
            return
        f = rule.action[0]          # the editor's rules steer one feature each
        _set(self.action, f.mode)
        self.target.set_index(f.index)
        self.strength.setValue(f.strength)
        _set(self.strength_unit, rule.unit)
        _set(self.span, "held" if rule.for_tokens is None else "n")
        if rule.for_tokens is not None:
            self.tokens.setValue(rule.for_tokens)


class RuleEditor(QWidget):
    """The rows, an Add button, and the rules they make (`rules_changed`)."""

    # (list[Rule]: the valid rows' rules, in order; the edit in words, for the undo list;
    #  a merge key, (row uid, field) for an edit of one field, None for adding or removing)
    rules_changed = Signal(list, str, object)

    def __init__(self, label_of=lambda i: None, d_sae: int = 1 << 20, parent=None):
        super().__init__(parent)
        self.label_of, self.d_sae = label_of, d_sae
        self.rows: list[RuleRow] = []
        self._quiet = False
        # Where a new rule starts: (the feature it watches, the feature it steers), or None
        # for #0; the panel offers the feature in view and the one it steers.
        self.suggest = lambda: None
        title = QLabel("<b>Rules</b>")
        title.setToolTip(HELP)
        self.add_button = QPushButton("Add a rule")
        self.add_button.setToolTip(HELP)
        self.add_button.clicked.connect(lambda: self.add_row())
        head = QHBoxLayout()
        head.addWidget(title)
        head.addStretch(1)
        head.addWidget(self.add_button)
        self.list_layout = QVBoxLayout()
        self.list_layout.setSpacing(4)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addLayout(head)
        layout.addLayout(self.list_layout)

    def add_row(self, rule: Rule | None = None) -> RuleRow:
        row = RuleRow(self.label_of, self.d_sae)
        if rule is not None:
            row.show_rule(rule)
        elif (start := self.suggest()) is not None:
            row.feature.set_index(start[0])
            row.target.set_index(start[1])
        row.changed.connect(lambda key, r=row: self._changed(
            f"edit rule {self.rows.index(r) + 1}", (r.uid, key)))
        row.remove_clicked.connect(self.remove_row)
        self.rows.append(row)
        self.list_layout.addWidget(row)
        self._changed("add a rule")
        return row

    def remove_row(self, row: RuleRow) -> None:
        words = f"remove rule {self.rows.index(row) + 1}"
        self.rows.remove(row)
        row.setParent(None)
        row.deleteLater()
        self._changed(words)

    def set_rules(self, rules: list[Rule]) -> None:
        """Rows for these rules (an undo, a preset), with no rules_changed for it. As many
        rules as rows: the rows show them in place, so that the focus stays in its box."""
        if rules == self.rules():
            return
        self._quiet = True
        if len(rules) == len(self.rows):
            for row, rule in zip(self.rows, rules):
                row.show_rule(rule)
        else:
            for row in list(self.rows):
                self.remove_row(row)
            for rule in rules:
                self.add_row(rule)
        self._quiet = False

    def set_sae(self, label_of, d_sae: int) -> None:
        self.label_of, self.d_sae = label_of, d_sae
        for row in self.rows:
            for picker in (row.feature, row.target):
                picker.label_of = label_of
                picker.spin.setMaximum(max(0, d_sae - 1))
                picker._changed()

    def rules(self) -> list[Rule]:
        """The rules of the rows that make one; each other row shows why it does not."""
        out = []
        for n, row in enumerate(self.rows, 1):
            try:
                out.append(row.rule())
                row.problem.setText("")
                row.problem.hide()
            except InputError as exc:
                row.problem.setText(f"Rule {n} is not used yet: {exc.message}")
                row.problem.show()
        return out

    def _changed(self, words: str, key=None) -> None:
        rules = self.rules()
        if not self._quiet:
            self.rules_changed.emit(rules, words, key)
