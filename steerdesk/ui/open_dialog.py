"""Choosing what to open: a model (folder, or one found in the local Hugging Face cache) and an
SAE (folder or file), from recent pairs or the pocket pack, on a device and dtype."""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtWidgets import (
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QFileDialog,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QListWidget,
    QListWidgetItem,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from steerdesk.engine import pack
from steerdesk.engine.session_spec import SessionSpec
from steerdesk.ui.wording import pair_text

DEVICES = ["auto", "cpu", "cuda", "mps"]
DTYPES = ["auto", "float32", "bfloat16", "float16"]
EMPTY = ("<b>Nothing to open yet.</b> Choose a model folder (with config.json) or a model "
         "already in your Hugging Face cache, and an SAE folder or file made for it. "
         "To download a real model with its SAE, use <i>File &gt; Get a model…</i>: it is "
         "fetched once, and opens offline after that.")


class OpenDialog(QDialog):
    def __init__(self, recent: list[SessionSpec], cached: list[str], parent=None,
                 current: SessionSpec | None = None):
        super().__init__(parent)
        self.setWindowTitle("Open a model and an SAE")
        self.setMinimumWidth(640)
        self.recent = QListWidget()
        self.recent.setToolTip("Pairs you opened before; double-click to open again")
        for spec in recent:
            item = QListWidgetItem(pair_text(spec.pair()))
            item.setToolTip(f"model: {spec.model}\nSAE: {spec.sae}")
            item.setData(Qt.UserRole, spec.pair())
            self.recent.addItem(item)
        if pack.pocket_available():
            item = QListWidgetItem("pocket pack (built in, offline)")
            item.setData(Qt.UserRole, SessionSpec(str(pack.pocket_model()),
                                                  str(pack.pocket_sae())).pair())
            self.recent.addItem(item)
        self.recent.currentItemChanged.connect(self._pick_pair)
        self.recent.itemDoubleClicked.connect(lambda _: self.accept())

        self.model = QComboBox()
        self.model.setEditable(True)
        self.model.addItems(cached)
        self.model.setCurrentText("")
        self.model.lineEdit().setPlaceholderText("model folder, or a hub id from your local cache")
        self.model.setToolTip("A folder with config.json and weights, or a model already in the "
                              "local Hugging Face cache (listed)")
        self.sae = QLineEdit()
        self.sae.setPlaceholderText("SAE folder or file (.safetensors, .pt)")
        self.hook = QLineEdit()
        self.hook.setPlaceholderText("from the SAE (leave empty)")
        self.hook.setToolTip("Where in the model the SAE reads, e.g. blocks.6.hook_resid_post. "
                             "Most SAEs say so themselves: leave empty.")
        self.device = QComboBox()
        self.device.addItems(DEVICES)
        self.device.setToolTip("auto: the GPU if there is one, else the CPU")
        self.dtype = QComboBox()
        self.dtype.addItems(DTYPES)
        self.dtype.setToolTip("Number precision. auto: float32 on CPU, bfloat16 on GPU "
                              "(half the memory)")

        form = QFormLayout()
        form.addRow("Model", self._with_buttons(self.model, [("Folder…", self._browse_model)]))
        form.addRow("SAE", self._with_buttons(self.sae, [("Folder…", self._browse_sae_dir),
                                                         ("File…", self._browse_sae_file)]))
        form.addRow("Hook", self.hook)
        devs = QHBoxLayout()
        devs.addWidget(self.device)
        devs.addWidget(QLabel("dtype"))
        devs.addWidget(self.dtype)
        devs.addStretch(1)
        form.addRow("Device", devs)

        self.buttons = QDialogButtonBox(QDialogButtonBox.Open | QDialogButtonBox.Cancel)
        self.buttons.accepted.connect(self.accept)
        self.buttons.rejected.connect(self.reject)
        layout = QVBoxLayout(self)
        if self.recent.count():
            layout.addWidget(QLabel("<b>Recent</b>"))
            layout.addWidget(self.recent)
        else:
            hint = QLabel(EMPTY)
            hint.setWordWrap(True)
            layout.addWidget(hint)
            self.recent.hide()
        layout.addLayout(form)
        layout.addWidget(self.buttons)
        if current is not None:
            self.set_spec(current)
        self._update_ok()
        self.model.currentTextChanged.connect(self._update_ok)
        self.sae.textChanged.connect(self._update_ok)

    def _with_buttons(self, field, buttons) -> QWidget:
        w = QWidget()
        row = QHBoxLayout(w)
        row.setContentsMargins(0, 0, 0, 0)
        row.addWidget(field, 1)
        for text, slot in buttons:
            b = QPushButton(text)
            b.clicked.connect(slot)
            row.addWidget(b)
        return w

    def _update_ok(self) -> None:
        ok = bool(self.model.currentText().strip() and self.sae.text().strip())
        self.buttons.button(QDialogButtonBox.Open).setEnabled(ok)

    def _pick_pair(self, item) -> None:
        if item is not None:
            self.set_spec(SessionSpec.from_pair(item.data(Qt.UserRole)))

    def set_spec(self, r: SessionSpec) -> None:
        self.model.setCurrentText(str(r.model))
        self.sae.setText(str(r.sae))
        self.hook.setText(r.hook or "")
        self.device.setCurrentText(r.device or "auto")
        self.dtype.setCurrentText(r.dtype or "auto")

    def _browse_model(self) -> None:
        d = QFileDialog.getExistingDirectory(self, "Model folder (with config.json)")
        if d:
            self.model.setCurrentText(d)

    def _browse_sae_dir(self) -> None:
        d = QFileDialog.getExistingDirectory(self, "SAE folder")
        if d:
            self.sae.setText(d)

    def _browse_sae_file(self) -> None:
        f, _ = QFileDialog.getOpenFileName(self, "SAE file", "",
                                           "SAE files (*.safetensors *.pt *.pth *.npz);;All (*)")
        if f:
            self.sae.setText(f)

    def spec(self) -> SessionSpec:
        """What to open, as filled in (the yes to pickle or remote code is asked later)."""
        return SessionSpec(self.model.currentText().strip(), self.sae.text().strip(),
                           self.hook.text().strip() or None, self.device.currentText(),
                           self.dtype.currentText())
