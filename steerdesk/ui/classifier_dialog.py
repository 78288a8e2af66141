"""Tools > Classifier from examples: two lists of texts in, the features that tell them apart
out, with a small classifier built on the best few. The classifier can be saved, tried on
new text as it is typed, and chosen to score the output columns while they stream.

The model work (contrast, scoring) runs on the app's one model worker; this dialog only
sends it jobs and shows what comes back."""

from __future__ import annotations

from PySide6.QtCore import Qt, QTimer, Signal
from PySide6.QtWidgets import (
    QComboBox,
    QDialog,
    QFileDialog,
    QHBoxLayout,
    QLabel,
    QListWidget,
    QListWidgetItem,
    QMessageBox,
    QPlainTextEdit,
    QPushButton,
    QSpinBox,
    QSplitter,
    QVBoxLayout,
    QWidget,
)

from steerdesk.engine.errors import InputError
from steerdesk.ui import wording
from steerdesk.ui.dialogs import error_text
from steerdesk.ui.feature_card import FeatureCard
from steerdesk.ui.text_sets import TwoTextSets
from steerdesk.ui.worker import TaskSlot

TRY_DELAY_MS = 350      # the "Try it" box scores once typing pauses this long
INTRO = ("Give examples of two kinds of text, one per line on each side (say, spam and not "
         "spam). steerdesk reads them through the model, finds the features (the SAE's "
         "learned patterns) whose activity differs most between the two sides, and builds a "
         "small classifier from the best few: a formula that says which side a new text "
         "looks like.")
POOLS = (("its strongest value in the text", "max"), ("its average over the text", "mean"))


def feature_line(f, names: tuple[str, str], width: int | None = 40) -> str:
    """One separating feature in words: which side it is more active on, and how reliably
    (the label cut to `width`; None: in full, for the line's tooltip)."""
    side, other = (names[0], names[1]) if f.score > 0 else (names[1], names[0])
    sure = f.auroc if f.score > 0 else 1.0 - f.auroc
    return (f"{wording.feature_name(f.index, f.label or None, width=width)} — more active on "
            f"“{side}” than on “{other}” in {100 * sure:.0f}% of pairs")


class ClassifierDialog(QDialog):
    scoring_chosen = Signal(object)          # the Classifier the columns are to be scored with
    built = Signal(object)                   # a ContrastResult (or a loaded Classifier: None)

    def __init__(self, controller, parent=None):
        super().__init__(parent)
        self.c = controller
        self.classifier = None
        self.result = None
        self._contrast = TaskSlot(controller.worker)
        self._try = TaskSlot(controller.worker)
        self.setWindowTitle("Classifier from examples")
        self.setMinimumSize(860, 640)
        intro = QLabel(INTRO)
        intro.setWordWrap(True)
        self.sets = TwoTextSets(placeholders=("Texts of one kind, e.g. spam…",
                                              "Texts of the other kind, e.g. not spam…"))
        self.pool = QComboBox()
        for words, key in POOLS:
            self.pool.addItem(words, key)
        self.pool.setToolTip("A text has many tokens; each feature gets one number per text")
        self.n_features = QSpinBox()
        self.n_features.setRange(1, 64)
        self.n_features.setValue(8)
        self.n_features.setSuffix(" best features")
        self.n_features.setToolTip("How many of the separating features the classifier uses")
        self.find_button = QPushButton("Find features that separate them")
        self.find_button.setDefault(True)
        self.find_button.clicked.connect(self.find)
        self.load_button = QPushButton("Load classifier…")
        self.load_button.clicked.connect(self.load_dialog)
        options = QHBoxLayout()
        options.addWidget(QLabel("Per text, each feature counts by"))
        options.addWidget(self.pool)
        options.addWidget(QLabel("; the classifier uses the"))
        options.addWidget(self.n_features)
        options.addStretch(1)
        options.addWidget(self.load_button)
        options.addWidget(self.find_button)

        self.status = QLabel("")
        self.status.setWordWrap(True)
        self.features = QListWidget()
        self.features.setToolTip("Click a feature to see where it fires")
        self.features.currentItemChanged.connect(self._show_feature)
        self.card = FeatureCard()
        self.card.add_button.hide()          # steering is the main window's business
        self.card.rename_button.hide()
        self.card.set_source(controller.features)
        results = QSplitter(Qt.Horizontal)
        results.addWidget(self.features)
        results.addWidget(self.card)
        results.setSizes([480, 380])

        self.try_text = QPlainTextEdit()
        self.try_text.setPlaceholderText("Try it: type a text here to see which side it falls on")
        self.try_text.setMaximumHeight(70)
        self.try_result = QLabel("")
        self.try_result.setWordWrap(True)
        self._try_timer = QTimer(self, singleShot=True, interval=TRY_DELAY_MS)
        self._try_timer.timeout.connect(self.score_try_text)
        self.try_text.textChanged.connect(self._try_timer.start)
        self.save_button = QPushButton("Save classifier…")
        self.save_button.clicked.connect(self.save_dialog)
        self.score_button = QPushButton("Score columns with this classifier")
        self.score_button.setToolTip("While text is generated, each output column shows which "
                                     "side its text so far falls on")
        self.score_button.clicked.connect(self.choose_for_columns)
        close = QPushButton("Close")
        close.clicked.connect(self.reject)
        buttons = QHBoxLayout()
        buttons.addWidget(self.try_result, 1)
        buttons.addWidget(self.save_button)
        buttons.addWidget(self.score_button)
        buttons.addWidget(close)

        top = QWidget()
        top_layout = QVBoxLayout(top)
        top_layout.setContentsMargins(0, 0, 0, 0)
        top_layout.addWidget(intro)
        top_layout.addWidget(self.sets, 1)
        top_layout.addLayout(options)
        split = QSplitter(Qt.Vertical)
        split.addWidget(top)
        split.addWidget(results)
        layout = QVBoxLayout(self)
        layout.addWidget(split, 1)
        layout.addWidget(self.status)
        layout.addWidget(self.try_text)
        layout.addLayout(buttons)
        self._set_classifier(None)

    # -- finding the features ----------------------------------------------------------------
    def find(self) -> None:
        """Contrast the two sets on the worker; the list and the classifier follow."""
        from steerdesk.engine.catalog import contrast

        if self.c.session is None:
            self.show_error(InputError("open a model and an SAE first (File > Open model and "
                                       "SAE)"))
            return
        try:
            a, b = self.sets.check()
        except InputError as exc:
            self.show_error(exc)
            return
        session, names = self.c.session, self.sets.names()
        pool, n = self.pool.currentData(), self.n_features.value()
        self._contrast.submit(
            lambda task: contrast(session, a, b, top=20, pool=pool, names=names,
                                  classifier_features=n),
            on_done=self._found, on_error=self._failed)
        self.find_button.setEnabled(False)
        self.status.setText(f"Reading {len(a) + len(b)} texts through the model…")

    def _found(self, result) -> None:
        self.find_button.setEnabled(True)
        self.result = result
        names = tuple(result.classifier.names)
        self.features.clear()
        for f in result.features:
            item = QListWidgetItem(feature_line(f, names))
            item.setData(Qt.UserRole, f.index)
            # the list cuts long lines at its edge: the tooltip has the whole of it
            item.setToolTip(f"{feature_line(f, names, width=None)}\naverage activation: "
                            f"{f.mean_a:.3g} on “{names[0]}”, {f.mean_b:.3g} on “{names[1]}”")
            self.features.addItem(item)
        self._set_classifier(result.classifier)
        self.built.emit(result)

    def _failed(self, exc, _tb: str = "") -> None:
        self.find_button.setEnabled(True)
        self.status.setText("")
        self.show_error(exc)

    def _show_feature(self, item, _previous=None) -> None:
        self.card.show_feature(item.data(Qt.UserRole) if item is not None else -1)

    # -- the classifier ----------------------------------------------------------------------
    def _set_classifier(self, clf) -> None:
        self.classifier = clf
        for w in (self.save_button, self.score_button, self.try_text):
            w.setEnabled(clf is not None)
        if clf is None:
            self.status.setText("")
            return
        n_a, n_b = (clf.n + [0, 0])[:2]
        self.status.setText(
            f"The classifier tells “{clf.names[0]}” from “{clf.names[1]}” with "
            f"{len(clf.features)} feature(s). " + wording.accuracy_words(clf.accuracy, n_a, n_b))
        self.score_try_text()

    def save_dialog(self) -> None:
        if self.classifier is None:
            return
        name = "-".join(n.replace(" ", "_") for n in self.classifier.names)
        path, _ = QFileDialog.getSaveFileName(self, "Save classifier", f"{name}.json",
                                              "Classifiers (*.json)")
        if path:
            self.save(path)

    def save(self, path: str) -> bool:
        try:
            self.classifier.save(path)
        except InputError as exc:
            self.show_error(exc)
            return False
        self.status.setText(f"Saved to {path}. " + self.status.text())
        return True

    def load_dialog(self) -> None:
        path, _ = QFileDialog.getOpenFileName(self, "Load classifier", "", "Classifiers (*.json)")
        if path:
            self.load(path)

    def load(self, path: str) -> bool:
        """A saved classifier (Classifier.save) becomes this dialog's; a dialog if it is bad."""
        from steerdesk.engine.catalog import Classifier

        try:
            clf = Classifier.load(path)
            if self.c.session is not None and clf.d_sae and clf.d_sae != self.c.session.sae.d_sae:
                raise InputError(f"{path}: this classifier was made for an SAE with "
                                 f"{clf.d_sae:,} features; the open SAE has "
                                 f"{self.c.session.sae.d_sae:,}")
        except InputError as exc:
            self.show_error(exc)
            return False
        self.result = None
        self.features.clear()
        self._set_classifier(clf)
        return True

    def score_try_text(self) -> None:
        """Score the "Try it" text on the worker (the latest text only)."""
        text, clf, session = self.try_text.toPlainText().strip(), self.classifier, self.c.session
        if not text or clf is None or session is None:
            self._try.cancel()
            self.try_result.setText("")
            return
        self._try.submit(lambda task: clf.apply(session, [text])[0],
                         on_done=lambda r: self.try_result.setText(
                             "This text: " + wording.verdict(clf.names, r["p_a"])),
                         on_error=lambda exc, _tb: self.try_result.setText(
                             "Could not score it: " + error_text(exc)))

    def choose_for_columns(self) -> None:
        if self.classifier is None:
            return
        try:
            self.c.set_classifier(self.classifier)
        except InputError as exc:
            self.show_error(exc)
            return
        self.scoring_chosen.emit(self.classifier)
        self.status.setText("The output columns of the next runs show this classifier's "
                            "verdict as they stream.")

    def show_error(self, exc) -> None:
        QMessageBox.warning(self, "Classifier from examples", error_text(exc))

    def reject(self) -> None:
        self._contrast.cancel()
        self._try.cancel()
        super().reject()
