"""The compare view: prompt, sampling controls, Generate/Stop, and the output columns
(baseline + steered, or one per strength in a sweep) filling token by token together."""

from __future__ import annotations

import html
import random

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QDoubleSpinBox,
    QFrame,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPlainTextEdit,
    QPushButton,
    QSizePolicy,
    QSpinBox,
    QSplitter,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from steerdesk.engine.errors import InputError
from steerdesk.engine.prompted import instructed_prompt
from steerdesk.ui import theme, wording
from steerdesk.ui.prompting_option import PromptingOption
from steerdesk.ui.run_record import RunRecord
from steerdesk.ui.run_setup import Sampling, Sweep
from steerdesk.ui.token_view import TokenView

DEFAULT_PROMPT = "The weather today is"


class OutputColumn(QWidget):
    """One output: its header (a strip in the column's plot colour, the title, the settings)
    and the text. The header is built in `set_header` only, so that what else a header shows
    (costs, rules) is added in one place."""

    def __init__(self, parent=None):
        super().__init__(parent)
        self.strip = QFrame()
        self.strip.setFixedHeight(6)
        self.title = QLabel()
        self.title.setTextFormat(Qt.RichText)
        # a long title (a prompted column's instruction) is cut, not the column widened;
        # the tooltip has it in full
        self.title.setSizePolicy(QSizePolicy.Ignored, QSizePolicy.Preferred)
        self.settings = QLabel()
        self.settings.setWordWrap(True)
        self.settings.setObjectName("hint")
        self.settings.setAlignment(Qt.AlignLeft | Qt.AlignTop)
        self.score = QLabel()    # the classifier's running verdict (Tools menu); hidden if none
        self.score.setToolTip("What the chosen classifier makes of this column's text so far "
                              "(Tools > Classifier from examples)")
        self.score.hide()
        self.costs = QLabel()    # fluency and reach, once the run has ended
        self.costs.setObjectName("hint")
        # wraps in a narrow column: one line each had made six sweep columns wider than the
        # screen, and the window grew past it
        self.costs.setWordWrap(True)
        self.costs.setSizePolicy(QSizePolicy.Ignored, QSizePolicy.Preferred)
        self.costs.setToolTip(wording.COSTS_TIP)
        self.costs.hide()
        self.view = TokenView()
        self.colour, self.title_text = "", ""
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(2)
        layout.addWidget(self.strip)
        layout.addWidget(self.title)
        layout.addWidget(self.settings)
        layout.addWidget(self.score)
        layout.addWidget(self.costs)
        layout.addWidget(self.view, 1)

    def set_header(self, title: str, settings: str, colour: str) -> None:
        """`colour`: the column's colour in the plots (theme.column_colour)."""
        self.colour, self.title_text = colour, title
        self.strip.setStyleSheet(f"background: {colour}; border: none;")
        self.title.setText(f"<span style='color:{colour}'>■</span> <b>{html.escape(title)}</b>")
        self.title.setToolTip(f"{title}\n\nThe colour of this column's lines in the "
                              "activation plot")
        self.settings.setText(settings)
        self.settings.setToolTip(settings)

    def set_score(self, names, p_a: float | None, scoring: bool) -> None:
        """`p_a`: the classifier's P(names[0]) for the text so far; None before a token."""
        self.score.setVisible(scoring)
        if scoring:
            self.score.setText("Classifier: " + ("waiting for text…" if p_a is None
                                                 else wording.verdict(names, p_a)))

    def text(self) -> str:
        return self.view.row.text if self.view.row else ""


def tint_sentence(features: list[int], label_of, picked: bool) -> str:
    """What the highlight shows, in words."""
    if not features:
        return ("Highlight: none (nothing was steered). Add a feature to the steering panel "
                "to see where it fires.")
    names = ", ".join(wording.feature_name(i, label_of(i), width=32)
                      for i in features[:4]) + (" …" if len(features) > 4 else "")
    if picked:
        return f"Highlight: where {names} fires (picked in the steering panel)."
    what = "the steered feature fires" if len(features) == 1 else \
        "the steered features fire (each on the scale of its own peak)"
    return f"Highlight: where {what}: {names}. Brighter = stronger."


def tint_legend(features: list[int], label_of, picked: bool) -> str:
    """The sentence as rich text, with a way back to the default after a pick."""
    text = html.escape(tint_sentence(features, label_of, picked))
    return text + (" &nbsp; <a href='all'>Show every steered feature</a>" if picked else "")


class CompareView(QWidget):
    generate_clicked = Signal()
    stop_clicked = Signal()
    lights_up_requested = Signal(str)
    open_requested = Signal()
    token_features = Signal(str, object)  # a token's text and its [(feature, value)]
    tint_reset = Signal()                # the highlight legend's "show every steered feature"

    def __init__(self, parent=None):
        super().__init__(parent)
        self.prompt = QPlainTextEdit(DEFAULT_PROMPT)
        self.prompt.setPlaceholderText("Type a prompt, then press Generate (Ctrl+Enter)")
        self.prompt.setMaximumHeight(self.fontMetrics().lineSpacing() * 4 + 12)
        self._lights_menu(self.prompt)

        self.mode = QComboBox()
        self.mode.addItem("completion", False)
        self.mode.addItem("chat", True)
        self.mode.setToolTip("completion: the model continues your text. chat: your text is "
                             "sent as a user message through the model's chat template (if it "
                             "has one)")
        self.max_tokens = QSpinBox()
        self.max_tokens.setRange(1, 4096)
        self.max_tokens.setValue(64)
        self.max_tokens.setToolTip("How many tokens (word pieces) to generate at most")
        self.temperature = QDoubleSpinBox()
        self.temperature.setRange(0.0, 2.0)
        self.temperature.setSingleStep(0.1)
        self.temperature.setToolTip("Randomness. 0 = always the most likely token (greedy, "
                                    "repeatable); around 0.7-1 = varied text")
        self.seed = QSpinBox()
        self.seed.setRange(0, 2 ** 31 - 1)
        self.seed.setToolTip("Random seed: the same seed and settings give the same text. "
                             "All columns share the same randomness, so differences come "
                             "from steering alone")
        self.seed_lock = QCheckBox("lock")
        self.seed_lock.setChecked(True)
        self.seed_lock.setToolTip("Locked: keep this seed for every run. Unlocked: a new "
                                  "random seed each time you press Generate")
        self.dice = QToolButton()
        self.dice.setText("New seed")
        self.dice.setToolTip("Pick a new random seed: the same steering on other random draws")
        self.dice.clicked.connect(self.roll_seed)

        self.sweep = QCheckBox("Sweep")
        self.sweep.setToolTip("Run the prompt at several strengths of one feature, side by "
                              "side (one batch)")
        self.sweep_feature = QComboBox()
        self.sweep_feature.setToolTip("The feature whose strength varies")
        self.sweep_strengths = QLineEdit("0, 2, 4, 8")
        self.sweep_strengths.setToolTip("Strengths to try, separated by commas (in the panel's "
                                        "unit)")
        width = self.fontMetrics().horizontalAdvance("0, 2, 4, 8, 16") + 16
        self.sweep_strengths.setMinimumWidth(width)   # grows with presentation fonts
        self.sweep_strengths.setMaximumWidth(2 * width)
        self.sweep_feature.setMinimumWidth(160)
        self.sweep_feature.setMaximumWidth(320)
        self.sweep.toggled.connect(self._sweep_toggled)
        self._sweep_toggled(False)

        self.generate_button = QPushButton("Generate")
        self.generate_button.setObjectName("generate")
        self.generate_button.setToolTip("Generate baseline and steered text (Ctrl+Enter). "
                                        "Pressing it again restarts.")
        self.generate_button.clicked.connect(self.generate_clicked)
        self.stop_button = QPushButton("Stop")
        self.stop_button.setToolTip("Stop generating (Esc)")
        self.stop_button.setEnabled(False)
        self.stop_button.clicked.connect(self.stop_clicked)

        controls = QHBoxLayout()
        self.labels: dict[QWidget, QLabel] = {}
        for label, w in (("Mode", self.mode), ("Max tokens", self.max_tokens),
                         ("Temperature", self.temperature), ("Seed", self.seed)):
            lab = QLabel(label)
            lab.setToolTip(w.toolTip())
            controls.addWidget(lab)
            controls.addWidget(w)
            self.labels[w] = lab
        controls.addWidget(self.seed_lock)
        controls.addWidget(self.dice)
        controls.addStretch(1)
        buttons = QHBoxLayout()
        buttons.addWidget(self.generate_button)
        buttons.addWidget(self.stop_button)
        buttons.addSpacing(12)
        buttons.addWidget(self.sweep)
        buttons.addWidget(self.sweep_feature)
        buttons.addWidget(self.sweep_strengths)
        buttons.addSpacing(12)
        self.prompting = PromptingOption()
        buttons.addWidget(self.prompting)
        buttons.addStretch(1)

        self.label_of = lambda i: None
        self.columns_split = QSplitter(Qt.Horizontal)
        self.columns: list[OutputColumn] = []
        self.empty = QLabel()
        self.empty.setAlignment(Qt.AlignCenter)
        self.empty.setWordWrap(True)
        self.empty.linkActivated.connect(lambda _: self.open_requested.emit())
        self.set_model_open(False)
        self.empty.setObjectName("hint")
        self.empty.setFrameShape(QFrame.StyledPanel)

        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.prompt)
        layout.addLayout(controls)
        layout.addLayout(buttons)
        self.tint_text = ""
        self.prompt_note = QLabel()
        self.prompt_note.setObjectName("hint")
        self.prompt_note.setWordWrap(True)
        self.prompt_note.hide()
        layout.addWidget(self.prompt_note)
        self.tint_legend = QLabel()
        self.tint_legend.setObjectName("hint")
        self.tint_legend.setWordWrap(True)
        self.tint_legend.linkActivated.connect(lambda _: self.tint_reset.emit())
        self.tint_legend.hide()
        layout.addWidget(self.empty, 1)
        layout.addWidget(self.tint_legend)
        layout.addWidget(self.columns_split, 1)
        self.columns_split.hide()
        self.set_sampling(Sampling())

    def presentation_hidden(self) -> list[QWidget]:
        """What presentation mode hides here (set before the talk); at 2x text the whole row
        of controls was wider than the screen."""
        return [self.mode, self.labels[self.mode], self.max_tokens, self.labels[self.max_tokens],
                self.seed, self.labels[self.seed], self.seed_lock, self.dice,
                self.prompting.instruction]

    def set_model_open(self, is_open: bool, opening: str = "") -> None:
        """The note in the empty middle; `opening`: a load is under way, in these words."""
        if opening:
            self.empty.setText(html.escape(opening))
            return
        self.empty.setText(
            "Press <b>Generate</b> (Ctrl+Enter) to see the baseline and the steered text side "
            "by side." if is_open else
            "No model is open. <a href='open'>Open a model and an SAE…</a> "
            "(File &gt; Open, Ctrl+O)")

    # -- inputs ------------------------------------------------------------------------------
    def prompt_text(self) -> str:
        return self.prompt.toPlainText()

    def set_prompt(self, text: str) -> None:
        self.prompt.setPlainText(text)

    def roll_seed(self) -> None:
        self.seed.setValue(random.randrange(0, 2 ** 31 - 1))

    def sampling(self) -> Sampling:
        """The settings for a new run: an unlocked seed is rolled first."""
        if not self.seed_lock.isChecked():
            self.roll_seed()
        return self.current_sampling()

    def current_sampling(self) -> Sampling:
        return Sampling(self.max_tokens.value(), self.temperature.value(), 1.0,
                        self.seed.value(), bool(self.mode.currentData()),
                        self.prompting.is_on(), self.prompting.text())

    def restore(self, prompt: str | None, sampling: Sampling | None) -> None:
        """Last session's prompt and sampling, where they were remembered."""
        if prompt is not None:
            self.set_prompt(prompt)
        if sampling is not None:
            self.set_sampling(sampling)

    def set_sampling(self, s: Sampling) -> None:
        self.max_tokens.setValue(s.max_new_tokens)
        self.temperature.setValue(s.temperature)
        self.seed.setValue(s.seed)
        self.mode.setCurrentIndex(1 if s.chat else 0)
        self.prompting.set(s.prompted, s.instruction)

    def set_sweep_features(self, items: list[tuple[int, str | None]]) -> None:
        """The panel's features, (index, label or None), offered for a sweep."""
        current = self.sweep_feature.currentData()
        self.sweep_feature.clear()
        for i, label in items:
            self.sweep_feature.addItem(wording.feature_name(i, label)[:40], i)
        n = self.sweep_feature.findData(current)
        self.sweep_feature.setCurrentIndex(max(n, 0))

    def sweep_request(self) -> Sweep | None:
        if not self.sweep.isChecked():
            return None
        if self.sweep_feature.currentData() is None:
            raise InputError("a sweep varies one feature of the steering panel; add a feature "
                             "first")
        try:
            values = [float(v) for v in self.sweep_strengths.text().replace(";", ",").split(",")
                      if v.strip()]
        except ValueError:
            raise InputError(f"sweep strengths {self.sweep_strengths.text()!r}: write numbers "
                             "separated by commas, like 0, 2, 4, 8") from None
        if not values or len(values) > 8:
            raise InputError("a sweep needs between 1 and 8 strengths")
        return Sweep(int(self.sweep_feature.currentData()), values)

    def _sweep_toggled(self, on: bool) -> None:
        self.sweep_feature.setVisible(on)
        self.sweep_strengths.setVisible(on)

    # -- outputs -----------------------------------------------------------------------------
    def start(self, record: RunRecord, label_of) -> None:
        while len(self.columns) < len(record.rows):
            col = OutputColumn()
            self._lights_menu(col.view)
            view = col.view
            view.token_clicked.connect(lambda n, v=view: self.token_features.emit(
                v.row.tokens[n].text, list(v.row.tokens[n].top_features)))
            self.columns.append(col)
            self.columns_split.addWidget(col)
        for n, col in enumerate(self.columns):
            col.setVisible(n < len(record.rows))
        self.label_of = label_of
        for n, (col, row) in enumerate(zip(self.columns, record.rows)):
            col.set_header(row.name, row.settings, theme.column_colour(n))
            col.view.label_of = label_of
            # the prompted column shows its instruction, greyed as the prompt, before its text
            col.view.reset(row, instructed_prompt(record.prompted, record.prompt)
                           if n == record.prompted_row else record.prompt)
            clf = record.classifier
            col.set_score(clf.names if clf else None, None, clf is not None)
        self.columns_split.setSizes([1000] * len(record.rows)
                                    + [0] * (len(self.columns) - len(record.rows)))
        self._align_headers()
        self.empty.hide()
        self.columns_split.show()
        self.tint_legend.show()
        self.set_running(True)

    def _align_headers(self) -> None:
        """All columns' texts start at the same height: the settings lines get the height of
        the tallest (at most four lines; the tooltip has the rest)."""
        cols = [c for c in self.columns if not c.isHidden()]
        if not cols:
            return
        line = cols[0].settings.fontMetrics().lineSpacing()
        width = max(self.columns_split.width() // len(cols) - 8, 80)
        tallest = max(c.settings.heightForWidth(width) for c in cols)
        height = min(max(tallest, line), 4 * line + 2)
        for c in cols:
            c.settings.setFixedHeight(height)

    def resizeEvent(self, event):
        super().resizeEvent(event)
        self._align_headers()

    def refresh(self, record: RunRecord, tint: list[int], picked: bool = False) -> None:
        """Show the tokens that came in, tinted by the `tint` features' activations (each on
        the scale of its peak over the run); `picked`: one feature the user chose."""
        tint = [i for i in tint if i in record.watch]
        cols = [record.watch.index(i) for i in tint]
        peaks = [record.peak(i) for i in tint]
        clf = record.classifier
        for n, col in enumerate(self.columns[: len(record.rows)]):
            col.view.set_tint(cols, peaks)
            col.view.refresh()
            col.set_score(clf.names if clf else None, record.row_score(n), clf is not None)
            col.costs.setText(wording.costs_line(record, n))
            col.costs.setVisible(record.costs is not None)
        self.tint_legend.setText(tint_legend(tint, self.label_of, picked))
        note = wording.prompt_note(record)
        self.prompt_note.setText(note)
        self.prompt_note.setVisible(bool(note))
        self.tint_text = tint_sentence(tint, self.label_of, picked)

    def set_dark(self, dark: bool) -> None:
        """The theme changed: every column re-tints on its next refresh, the baseline's colour
        follows the page."""
        for n, column in enumerate(self.columns):
            column.view.invalidate()
            if column.colour:
                column.set_header(column.title_text, column.settings.text(),
                                  theme.column_colour(n, dark))

    def set_running(self, running: bool) -> None:
        self.stop_button.setEnabled(running)

    def visible_columns(self) -> list[OutputColumn]:
        return [c for c in self.columns if c.isVisible()]

    def _lights_menu(self, widget) -> None:
        """'What lights up here?' on the selection, in the usual right-click menu. Only that
        asks: selecting text (to copy it, say) leaves the feature browser's box alone."""
        widget.setContextMenuPolicy(Qt.CustomContextMenu)

        def show(pos):
            menu = widget.createStandardContextMenu()
            text = widget.textCursor().selectedText().replace("\u2029", "\n")
            act = menu.addAction("What lights up here?")
            act.setEnabled(bool(text.strip()))
            act.triggered.connect(lambda: self.lights_up_requested.emit(text))
            menu.exec(widget.mapToGlobal(pos))

        widget.customContextMenuRequested.connect(show)
