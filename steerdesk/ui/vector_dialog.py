"""Steering vector from examples: texts that show a concept and texts that do not, and Build.

The vector is the difference of the model's mean activations at the SAE's hook over the two
sets (engine/diffmean.py). Building runs on the model worker (through the controller); the
dialog only sends the texts and shows what comes back. The built vector goes onto the
steering panel as its own row, one undoable step; "Load vector file…" adds one saved by
`steerdesk vectors build` or by "Save vector…" here."""

from __future__ import annotations

from PySide6.QtWidgets import (QDialog, QFileDialog, QHBoxLayout, QLabel, QLineEdit,
                               QMessageBox, QPushButton, QVBoxLayout)

from steerdesk.engine.errors import InputError
from steerdesk.ui.dialogs import error_text
from steerdesk.ui.text_sets import TwoTextSets

INTRO = ("Give texts that show a concept on the left and texts that do not on the right (one "
         "per line; a few dozen of each works well, and they should differ in the concept "
         "only). <b>Build</b> runs them through the model and takes the difference of its "
         "average inner activation over the two sides: a direction that points toward the "
         "concept. It appears in the steering panel as its own row, with a strength in "
         "<i>× typical</i>: 1.0 adds one typical activation along that direction.")
FILE_KINDS = "Steering vectors (*.json)"


class VectorDialog(QDialog):
    def __init__(self, controller, parent=None):
        super().__init__(parent)
        self.c = controller
        self.vector = None            # the last one built here
        self.setWindowTitle("Steering vector from examples")
        self.setMinimumSize(720, 460)
        intro = QLabel(INTRO)
        intro.setWordWrap(True)
        self.sets = TwoTextSets(("the concept", "not the concept"),
                                ("Texts that show the concept…", "Texts that do not…"))
        self.name = QLineEdit()
        self.name.setPlaceholderText("a name for the vector (default: the left side's name)")
        self.name.setToolTip("The name the vector has in the panel and in presets")
        self.status = QLabel("")
        self.status.setWordWrap(True)
        self.build_button = QPushButton("Build")
        self.build_button.setDefault(True)
        self.build_button.setToolTip("Build the vector from the two lists and add it to the "
                                     "steering panel")
        self.build_button.clicked.connect(self.build)
        self.save_button = QPushButton("Save vector…")
        self.save_button.setToolTip("Save the vector just built as a file, for "
                                    "steerdesk generate --vector FILE=STRENGTH")
        self.save_button.setEnabled(False)
        self.save_button.clicked.connect(self.save_dialog)
        load_button = QPushButton("Load vector file…")
        load_button.setToolTip("Add a vector saved earlier (or by steerdesk vectors build) "
                               "to the steering panel")
        load_button.clicked.connect(self.load_dialog)
        close = QPushButton("Close")
        close.clicked.connect(self.reject)
        name_row = QHBoxLayout()
        name_row.addWidget(QLabel("Name"))
        name_row.addWidget(self.name, 1)
        buttons = QHBoxLayout()
        buttons.addWidget(self.status, 1)
        buttons.addWidget(load_button)
        buttons.addWidget(self.save_button)
        buttons.addWidget(self.build_button)
        buttons.addWidget(close)
        layout = QVBoxLayout(self)
        layout.addWidget(intro)
        layout.addWidget(self.sets, 1)
        layout.addLayout(name_row)
        layout.addLayout(buttons)

    def vector_name(self) -> str:
        return self.name.text().strip() or self.sets.names()[0]

    def build(self) -> None:
        if self.c.session is None:
            self.status.setText("Open a model and SAE first.")
            return
        try:
            a, b = self.sets.check()
        except InputError as exc:
            self.status.setText(exc.message)
            return
        self.build_button.setEnabled(False)
        self.status.setText(f"Building from {len(a)} + {len(b)} texts…")
        self.c.build_vector(a, b, self.vector_name(), on_done=self._built,
                            on_error=self._failed)

    def _built(self, vector) -> None:
        self.vector = vector
        self.build_button.setEnabled(True)
        self.save_button.setEnabled(True)
        self.c.add_vector(vector)
        self.status.setText(f"Built “{vector.name}” from {vector.n_tokens[0]} + "
                            f"{vector.n_tokens[1]} tokens and added it to the steering panel "
                            "at 1.0 × typical.")

    def _failed(self, exc) -> None:
        self.build_button.setEnabled(True)
        self.status.setText("")
        QMessageBox.warning(self, "Steering vector from examples", error_text(exc))

    def save_dialog(self) -> None:
        if self.vector is None:
            return
        path, _ = QFileDialog.getSaveFileName(self, "Save steering vector",
                                              f"{self.vector.name}.json", FILE_KINDS)
        if path:
            self.save(path)

    def save(self, path: str) -> bool:
        from steerdesk.engine.diffmean import save_vector

        try:
            save_vector(self.vector, path)
        except InputError as exc:
            QMessageBox.warning(self, "Save steering vector", error_text(exc))
            return False
        self.status.setText(f"Saved to {path}.")
        return True

    def load_dialog(self) -> None:
        path, _ = QFileDialog.getOpenFileName(self, "Load steering vector", "", FILE_KINDS)
        if path:
            self.load(path)

    def load(self, path: str) -> bool:
        """A vector file onto the panel; a bad file is a dialog of one line."""
        from steerdesk.engine.diffmean import load_vector

        try:
            vector = load_vector(path)
            if self.c.session is not None:
                vector.fit_notes(self.c.session.sae.d_in, "", "")   # another width: refused
        except InputError as exc:
            QMessageBox.warning(self, "Load steering vector", error_text(exc))
            return False
        self.c.add_vector(vector)
        self.status.setText(f"Added “{vector.name}” to the steering panel at 1.0 × typical.")
        return True
