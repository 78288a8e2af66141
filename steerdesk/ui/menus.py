"""The menu bar, its actions and shortcuts, and the file dialogs behind them (presets,
exports). Every action is also added to the window itself, so its shortcut works in full
screen with the menu bar hidden."""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from pathlib import Path

import platformdirs

from PySide6.QtCore import Qt
from PySide6.QtGui import QAction, QKeySequence
from PySide6.QtWidgets import QApplication, QFileDialog, QMainWindow, QMenu

from steerdesk.engine.errors import InputError
from steerdesk.engine.presets import list_presets
from steerdesk.engine.session_spec import SessionSpec
from steerdesk.ui import config, export
from steerdesk.ui.about import show_about
from steerdesk.ui.guide import FIXED_NAME, show_guide
from steerdesk.ui.undo_router import UndoRouter
from steerdesk.ui.wording import pair_text

ZOOM_STEP = 1.15
COMPILED_TIP = ("Decode with a compiled step (torch.compile, a static cache): faster on a GPU, "
                "same tokens; the first run of a new length or column count compiles first")


class Menus:
    def __init__(self, window: QMainWindow):
        self.w = window
        self.last_export_dir: Path | None = None    # where this session last exported to
        c = window.c
        bar = window.menuBar()
        file = bar.addMenu("&File")
        self._action(file, "&Get a model…", self.show_gallery)
        self._action(file, "&Open model and SAE…", window.show_open_dialog, QKeySequence.Open)
        self.recent = file.addMenu("Open &recent")
        file.addSeparator()
        self._action(file, "Export comparison as &HTML…", self.export_html)
        self._action(file, "Export comparison as &PNG…", self.export_png)
        file.addSeparator()
        self._action(file, "&Quit", window.close, QKeySequence.Quit)

        edit = bar.addMenu("&Edit")
        for act, name, keys in ((c.undo.createUndoAction(window, "&Undo"), "Undo",
                                 [QKeySequence.Undo]),
                                (c.undo.createRedoAction(window, "&Redo"), "Redo",
                                 [QKeySequence("Ctrl+Shift+Z"), QKeySequence("Ctrl+Y")])):
            act.setShortcuts(keys)
            act.setProperty(FIXED_NAME, name)   # its text follows the stack; the Guide's list not
            edit.addAction(act)
            window.addAction(act)   # in presentation mode the menu bar is hidden
        self.undo_router = UndoRouter(window)   # the keys work wherever the focus is
        QApplication.instance().installEventFilter(self.undo_router)

        self.presets = bar.addMenu("&Steering")
        self.presets.aboutToShow.connect(self.fill_presets)
        window.panel.set_presets_menu(self.presets)
        self.fill_presets()

        run = bar.addMenu("&Run")
        self.generate = self._action(run, "&Generate", window.generate)
        self.generate.setShortcuts([QKeySequence("Ctrl+Return"), QKeySequence("Ctrl+Enter")])
        self.stop = self._action(run, "&Stop", window.stop, QKeySequence("Esc"))
        self.stop.setShortcutContext(Qt.ApplicationShortcut)
        run.addSeparator()
        self.compiled = self._action(run, "&Compiled decoding", window.set_compiled_decoding)
        self.compiled.setCheckable(True)
        self.compiled.setStatusTip(COMPILED_TIP)

        tools = bar.addMenu("&Tools")
        self._action(tools, "&Classifier from examples…", self.show_classifier_dialog)
        self._action(tools, "Steering &vector from examples…", self.vector_dialog)
        self.stop_scoring = self._action(tools, "Stop &scoring columns",
                                         lambda: c.set_classifier(None))
        self.stop_scoring.setStatusTip("The output columns no longer show a classifier's verdict")
        self.stop_scoring.setEnabled(False)
        c.classifier_changed.connect(lambda clf: self.stop_scoring.setEnabled(clf is not None))
        self.classifier_dialog = None

        view = bar.addMenu("&View")
        self.presentation = self._action(view, "&Presentation mode", window.set_presentation,
                                         QKeySequence("F11"))
        self.presentation.setCheckable(True)
        # Wherever the focus went (a stopped run, a closed dialog), F11 leaves as it entered.
        self.presentation.setShortcutContext(Qt.ApplicationShortcut)
        self.start_presentation = view.addAction("Start in presentation &mode")
        self.start_presentation.setCheckable(True)   # the mode itself is never remembered
        self.start_presentation.setChecked(window.settings.presentation)
        self.start_presentation.toggled.connect(window.set_start_in_presentation)
        view.addSeparator()
        self._action(view, "&Larger text", lambda: window.zoom(ZOOM_STEP), QKeySequence.ZoomIn)
        self._action(view, "&Smaller text", lambda: window.zoom(1 / ZOOM_STEP),
                     QKeySequence.ZoomOut)
        self._action(view, "&Normal text size", lambda: window.zoom(None),
                     QKeySequence("Ctrl+0"))

        help_ = bar.addMenu("&Help")
        self._action(help_, "&Guide: steering in plain words", lambda: show_guide(window),
                     QKeySequence.HelpContents)
        self._action(help_, "&Keyboard shortcuts", lambda: show_guide(window, "shortcuts"))
        help_.addSeparator()
        self._action(help_, "&About steerdesk", lambda: show_about(window, c.session))

    def _action(self, menu: QMenu, text: str, slot: Callable, shortcut=None) -> QAction:
        act = menu.addAction(text)
        act.triggered.connect(slot)
        if shortcut is not None:
            act.setShortcut(shortcut)
        self.w.addAction(act)
        return act

    def fill_recent(self, recent: list[SessionSpec]) -> None:
        self.recent.clear()
        for spec in recent:
            act = self.recent.addAction(pair_text(spec.pair()))
            act.setToolTip(f"{spec.model} + {spec.sae}")
            act.triggered.connect(lambda _=False, s=spec: self.w.open_pair(s))
        self.recent.setEnabled(bool(recent))

    def fill_presets(self) -> None:
        m = self.presets
        m.clear()
        m.addAction("&Save steering as preset…", self.save_preset_dialog)
        m.addAction("&Load preset…", self.load_preset_dialog)
        m.addAction("&Clear the panel", self.w.c.editor.clear)
        m.addAction("Steering &vector from examples…", self.vector_dialog)
        for title, folder in self.w.c.preset_folders():
            found = list_presets(folder)
            if not found:
                continue
            m.addSection(title)
            for preset, path in found:
                act = m.addAction(preset.name)
                act.setToolTip(preset.description or str(path))
                act.triggered.connect(lambda _=False, p=path: self.w.load_preset(p))

    # -- the dialogs behind the menus --------------------------------------------------------
    def show_gallery(self) -> None:
        """Real models with their SAEs: download (in the dialog's own thread) and open."""
        from steerdesk.ui.gallery_dialog import GalleryDialog

        dialog = GalleryDialog(self.w)
        dialog.open_requested.connect(lambda name: self.w.open_pair(SessionSpec(sae=name)))
        dialog.exec()

    def show_classifier_dialog(self):
        """Two lists of example texts -> the features that separate them and a classifier.
        Not modal: the user can generate with its verdicts while it stays open."""
        from steerdesk.ui.classifier_dialog import ClassifierDialog

        if self.classifier_dialog is None:
            self.classifier_dialog = ClassifierDialog(self.w.c, self.w)
            self.w.c.session_opened.connect(
                lambda _s: self.classifier_dialog.card.set_source(self.w.c.features))
        self.classifier_dialog.show()
        self.classifier_dialog.raise_()
        return self.classifier_dialog

    def build_evidence_dialog(self) -> None:
        """The feature card's offer: a catalog of evidence from the user's own text."""
        from steerdesk.ui.evidence_dialog import EvidenceDialog

        c = self.w.c
        if c.session is None:
            return
        dialog = EvidenceDialog(c.session, c.worker, self.w)
        dialog.built.connect(c.catalog_built)
        dialog.exec()

    def vector_dialog(self) -> None:
        """Two lists of example texts -> a steering vector on the panel (built on the worker)."""
        from steerdesk.ui.vector_dialog import VectorDialog

        if self.w.c.session is None:
            self.w.show_error("Steering vector", InputError("open a model and SAE first"))
            return
        VectorDialog(self.w.c, self.w).exec()

    def save_preset_dialog(self) -> None:
        folder = config.user_presets_dir()
        with contextlib.suppress(OSError):   # a read-only home: the dialog can go elsewhere
            folder.mkdir(parents=True, exist_ok=True)
        name = self.w.c.panel.name or "my steering"
        path, _ = QFileDialog.getSaveFileName(self.w, "Save steering as preset",
                                              str(folder / f"{_slug(name)}.json"),
                                              "Presets (*.json)")
        if path:
            self._saving("Save preset", lambda: self._saved(self.w.c.save_preset(path)))

    def _saved(self, path) -> None:
        """A save says so: in the status bar, and the preset is in the Steering menu."""
        self.fill_presets()
        self.w.status.show_status(f"Saved preset “{self.w.c.panel.name}” to {path}",
                                  str(path))

    def load_preset_dialog(self) -> None:
        path, _ = QFileDialog.getOpenFileName(self.w, "Load preset",
                                              str(config.user_presets_dir()), "Presets (*.json)")
        if path:
            self.w.load_preset(path)

    def export_html(self) -> None:
        path = self._export_path("comparison.html", "HTML (*.html)")
        if path:
            self._saving("Export", lambda: export.save_html(path, self.w.comparison_html()))

    def export_png(self) -> None:
        path = self._export_path("comparison.png", "PNG (*.png)")
        if path:
            self._saving("Export", lambda: export.save_png(self.w.comparison_image(), path))

    def _saving(self, title: str, save: Callable) -> None:
        """A full disk or a read-only folder is a dialog, and the app goes on."""
        try:
            save()
        except InputError as exc:
            self.w.show_error(title, exc)

    def _export_path(self, name: str, kinds: str) -> str:
        if self.w.c.run is None:
            self.w.show_error("Export", InputError("generate something first, then export it"))
            return ""
        path, _ = QFileDialog.getSaveFileName(self.w, "Export comparison",
                                              str(self._export_folder() / name), kinds)
        if path:
            self.last_export_dir = Path(path).parent
        return path

    def _export_folder(self) -> Path:
        """The folder of this session's last export, else the user's Documents (not the
        folder the app was started from, which may be a source checkout)."""
        if self.last_export_dir is not None and self.last_export_dir.is_dir():
            return self.last_export_dir
        docs = Path(platformdirs.user_documents_dir())
        return docs if docs.is_dir() else Path.home()


def _slug(name: str) -> str:
    keep = "".join(ch if ch.isalnum() else "-" for ch in name.lower()).strip("-")
    return keep or "preset"

