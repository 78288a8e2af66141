"""The main window: feature browser | prompt, outputs and plots | steering panel.

It wires widgets to the controller and owns the things only a window has: menus, dialogs,
shortcuts, the frame timer, presentation mode and saving the session on the way out."""

from __future__ import annotations

import sys
import time
from dataclasses import asdict
from pathlib import Path

from PySide6.QtCore import QByteArray, Qt, QTimer, Signal
from PySide6.QtGui import QAction, QKeySequence
from PySide6.QtWidgets import (
    QApplication,
    QFileDialog,
    QLabel,
    QMainWindow,
    QMenu,
    QMessageBox,
    QProgressBar,
    QSplitter,
    QTabWidget,
    QVBoxLayout,
    QWidget,
)

from steerdesk.engine import pack
from steerdesk.engine.errors import InputError, PickleRefused, RemoteCodeRefused
from steerdesk.engine.presets import (
    list_presets,
    load_preset,
    parse_preset,
    save_preset,
)
from steerdesk.ui import config, export, theme
from steerdesk.ui.about import show_about
from steerdesk.ui.compare_view import CompareView
from steerdesk.ui.controller import Controller, OpenRequest
from steerdesk.ui.feature_browser import FeatureBrowser
from steerdesk.ui.open_dialog import OpenDialog, pair_text
from steerdesk.ui.plots import ActivationPlot, HeatmapPlot, colour_map, style_plot
from steerdesk.ui.steering_panel import SteeringPanel

FRAME_MS = 33          # redraw at most ~30 times a second, however fast tokens come
class MainWindow(QMainWindow):
    generation_finished = Signal(object)     # RunRecord
    session_ready = Signal(object)           # Session
    error_shown = Signal(str)

    def __init__(self, interactive: bool = True):
        super().__init__()
        self.interactive = interactive       # False: print errors instead of dialogs
        self.last_error = ""
        self.settings = config.load_settings()
        self.c = Controller(self)
        self.setWindowTitle("steerdesk")
        icon = theme.app_icon()
        if icon is not None:
            self.setWindowIcon(icon)
            QApplication.instance().setWindowIcon(icon)
        self._base_point_size = QApplication.instance().font().pointSizeF()
        self._zoom = float(self.settings.get("zoom", 1.0) or 1.0)
        if self._zoom != 1.0:
            theme.apply(False, self._base_point_size * self._zoom)
        self._drawn_version = -1
        self._frame = 0
        self._run_started_at = 0.0

        self.browser = FeatureBrowser()
        self.compare = CompareView()
        self.panel = SteeringPanel(self.c)
        self.plot = ActivationPlot()
        self.heatmap = HeatmapPlot()
        self.plots = QTabWidget()
        self.plots.addTab(self.plot, "Activations")
        self.plots.addTab(self.heatmap, "Top features × tokens")
        self.plots.currentChanged.connect(lambda _: self._force_redraw())

        center = QSplitter(Qt.Vertical)
        center.addWidget(self.compare)
        center.addWidget(self.plots)
        center.setStretchFactor(0, 3)
        center.setStretchFactor(1, 2)
        center.setSizes([520, 330])
        self.main_split = QSplitter(Qt.Horizontal)
        self.main_split.addWidget(self._titled("Features", self.browser))
        self.main_split.addWidget(center)
        self.main_split.addWidget(self.panel)
        self.main_split.setStretchFactor(1, 1)
        self.main_split.setSizes([340, 760, 380])
        central = QWidget()
        margins = QVBoxLayout(central)
        margins.setContentsMargins(6, 4, 6, 0)
        margins.addWidget(self.main_split)
        self.setCentralWidget(central)

        self.progress = QProgressBar()
        self.progress.setRange(0, 100)
        self.progress.setMaximumWidth(260)
        self.progress.hide()
        self.session_label = QLabel("no model open")
        self.statusBar().addWidget(self.session_label, 1)
        self.statusBar().addPermanentWidget(self.compare.status)
        self.statusBar().addPermanentWidget(self.progress)

        self._build_menus()
        self._connect()
        self.frame_timer = QTimer(self, interval=FRAME_MS)
        self.frame_timer.timeout.connect(self.redraw)
        self.frame_timer.start()
        self.restore_last_state()
        self.resize(1480, 900)
        geometry = self.settings.get("geometry")
        if isinstance(geometry, str):
            self.restoreGeometry(QByteArray.fromBase64(geometry.encode()))
        if self.settings.get("presentation"):
            QTimer.singleShot(0, lambda: self.set_presentation(True))

    def _titled(self, title: str, widget: QWidget) -> QWidget:
        w = QWidget()
        layout = QVBoxLayout(w)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(QLabel(f"<b>{title}</b>"))
        layout.addWidget(widget, 1)
        return w

    # -- menus and shortcuts -----------------------------------------------------------------
    def _build_menus(self) -> None:
        bar = self.menuBar()
        file = bar.addMenu("&File")
        self._action(file, "&Open model and SAE…", self.show_open_dialog, QKeySequence.Open)
        self.recent_menu = file.addMenu("Open &recent")
        file.addSeparator()
        self._action(file, "Export comparison as &HTML…", self.export_html)
        self._action(file, "Export comparison as &PNG…", self.export_png)
        file.addSeparator()
        self._action(file, "&Quit", self.close, QKeySequence.Quit)

        edit = bar.addMenu("&Edit")
        undo = self.c.undo.createUndoAction(self, "&Undo")
        undo.setShortcut(QKeySequence.Undo)
        redo = self.c.undo.createRedoAction(self, "&Redo")
        redo.setShortcut(QKeySequence.Redo)
        edit.addAction(undo)
        edit.addAction(redo)

        self.presets_menu = bar.addMenu("&Steering")
        self.presets_menu.aboutToShow.connect(self._fill_presets_menu)
        self.panel.presets_button.setMenu(self.presets_menu)
        self._fill_presets_menu()

        run = bar.addMenu("&Run")
        self.generate_action = self._action(run, "&Generate", self.generate,
                                            QKeySequence("Ctrl+Return"))
        self.generate_action.setShortcuts([QKeySequence("Ctrl+Return"),
                                           QKeySequence("Ctrl+Enter")])
        self.stop_action = self._action(run, "&Stop", self.stop, QKeySequence("Esc"))
        self.stop_action.setShortcutContext(Qt.ApplicationShortcut)

        view = bar.addMenu("&View")
        self.presentation_action = self._action(view, "&Presentation mode",
                                                lambda on: self.set_presentation(on),
                                                QKeySequence("F11"))
        self.presentation_action.setCheckable(True)
        view.addSeparator()
        self._action(view, "&Larger text", lambda: self.zoom(1.15), QKeySequence.ZoomIn)
        self._action(view, "&Smaller text", lambda: self.zoom(1 / 1.15), QKeySequence.ZoomOut)
        self._action(view, "&Normal text size", lambda: self.zoom(None), QKeySequence("Ctrl+0"))

        help_ = bar.addMenu("&Help")
        self._action(help_, "&About steerdesk", lambda: show_about(self, self.c.session))
        self._fill_recent_menu()

    def _action(self, menu: QMenu, text: str, slot, shortcut=None) -> QAction:
        act = menu.addAction(text)
        act.triggered.connect(slot)
        if shortcut is not None:
            act.setShortcut(shortcut)
        self.addAction(act)  # shortcuts work in full screen, with the menu bar hidden
        return act

    def _fill_recent_menu(self) -> None:
        self.recent_menu.clear()
        for pair in self.settings.get("recent", []):
            act = self.recent_menu.addAction(pair_text(pair))
            act.setToolTip(f"{pair.get('model')} + {pair.get('sae')}")
            act.triggered.connect(
                lambda _=False, p=pair: self.open_pair(OpenRequest.from_pair(p)))
        self.recent_menu.setEnabled(bool(self.settings.get("recent")))

    def _fill_presets_menu(self) -> None:
        m = self.presets_menu
        m.clear()
        m.addAction("&Save steering as preset…", self.save_preset_dialog)
        m.addAction("&Load preset…", self.load_preset_dialog)
        m.addAction("&Clear the panel", self.c.editor.clear)
        for title, folder in self._preset_folders():
            found = list_presets(folder)
            if not found:
                continue
            m.addSection(title)
            for preset, path in found:
                act = m.addAction(preset.name)
                act.setToolTip(preset.description or str(path))
                act.triggered.connect(lambda _=False, p=path: self.load_preset_file(p))

    def _preset_folders(self) -> list[tuple[str, Path]]:
        folders = []
        sae_path = self.c.session.sae_path if self.c.session is not None else None
        beside = pack.presets_beside(sae_path)
        if beside is not None:
            folders.append(("Presets of this pack", beside))
        elif sae_path is None and pack.pocket_presets().is_dir():
            folders.append(("Pocket pack presets", pack.pocket_presets()))
        folders.append(("My presets", config.user_presets_dir()))
        return folders

    def _connect(self) -> None:
        c = self.c
        c.loading.connect(self._on_loading)
        c.load_progress.connect(self._on_progress)
        c.session_opened.connect(self._on_session)
        c.load_failed.connect(self._on_load_failed)
        c.run_finished.connect(self._on_finished)
        c.run_failed.connect(self._on_run_failed)
        c.lights_up_done.connect(self.browser.show_lights_up)
        c.lights_up_failed.connect(lambda e: self.show_error("What lights up", e))
        c.focus_changed.connect(lambda _: self._force_redraw())
        c.panel.rows_changed.connect(self._panel_rows_changed)
        self.browser.add_requested.connect(self.panel.add_feature)
        self.browser.feature_selected.connect(self._browsed)
        self.browser.label_changed.connect(lambda _i: self.panel.rebuild())
        self.browser.lights_up_requested.connect(c.lights_up)
        self.compare.generate_clicked.connect(self.generate)
        self.compare.stop_clicked.connect(self.stop)
        self.compare.lights_up_requested.connect(self._lights_up_on)
        self.compare.text_selected.connect(self.browser.set_lights_text)
        self.compare.open_requested.connect(self.show_open_dialog)
        self.compare.token_features.connect(self._show_token_features)

    # -- opening -----------------------------------------------------------------------------
    def show_open_dialog(self) -> None:
        from steerdesk.engine.models import cached_models

        dialog = OpenDialog(self.settings.get("recent", []), cached_models(), self,
                            self.c.open_request)
        if dialog.exec():
            self.open_pair(dialog.request())

    def open_pair(self, request: OpenRequest) -> None:
        self.c.open(request)

    def _on_loading(self, request: OpenRequest) -> None:
        self.progress.setValue(0)
        self.progress.show()
        self.session_label.setText(f"Loading {pair_text(request.pair())}…")

    def _on_progress(self, fraction: float, message: str) -> None:
        self.progress.setValue(int(fraction * 100))
        self.progress.setFormat(f"{message[:40]} %p%")

    def _on_session(self, session) -> None:
        self.progress.hide()
        d = session.describe()
        catalog = "catalog" if session.catalog is not None else "no catalog"
        name = _model_title(d["model"]["name"], session.lm.path)
        self.session_label.setText(
            f"{name} · SAE {d['sae']['d_sae']:,} features at {d['sae']['hook']}"
            f" · {catalog} · {d['model']['device']} {d['model']['dtype']}")
        self.setWindowTitle(f"steerdesk — {name}")
        self.browser.set_source(self.c.features)
        self.compare.set_model_open(True)
        if session.catalog is None:
            self.compare.status.setText("no catalog for this SAE: strengths are in raw units "
                                        "and features have numbers, not labels")
        self.panel.set_max_unit_allowed(session.catalog is not None)
        self._relabel_panel()
        config.remember_pair(self.settings, self.c.open_request.pair())
        self._fill_recent_menu()
        self.save_settings()
        self.session_ready.emit(session)

    def _on_load_failed(self, exc, request: OpenRequest) -> None:
        self.progress.hide()
        self.session_label.setText("no model open" if self.c.session is None else
                                   self.session_label.text())
        if isinstance(exc, PickleRefused) and self.interactive and self.ask(
                "Read a pickle file?", f"{exc}\n\nPickle files can run code when read. "
                "Only say yes if you trust where this file came from. Read it?"):
            request.allow_pickle = True
            self.open_pair(request)
            return
        if isinstance(exc, RemoteCodeRefused) and self.interactive and self.ask(
                "Run the model's own code?", f"{exc}\n\nRun its code?"):
            request.trust_remote_code = True
            self.open_pair(request)
            return
        self.show_error("Could not open the model", exc)

    # -- generation --------------------------------------------------------------------------
    def generate(self) -> None:
        if self.c.session is None:
            self.show_error("Generate", InputError(
                "open a model and an SAE first (File > Open model and SAE)"))
            return
        if self.c.is_loading():   # it would run on the model being replaced
            self.compare.status.setText("still loading the new model; generate again when "
                                        "it is ready")
            return
        try:
            sweep = self.compare.sweep_request()
            record = self.c.generate(self.compare.prompt.toPlainText(),
                                     self.compare.sampling(), sweep)
        except InputError as exc:
            self.show_error("Generate", exc)
            return
        label_of = self.c.features.label
        self.compare.start(record, label_of)
        colours = colour_map(record, self.c.panel.indices())
        self.plot.reset(record, colours, label_of)
        self.heatmap.reset(record, label_of)
        self._drawn_version = -1
        self._frame = 0
        self._run_started_at = time.perf_counter()
        self.compare.status.setText("generating…")

    def stop(self) -> None:
        if self.c.is_generating():
            self.c.stop()
            self.compare.status.setText("stopping…")

    def _on_finished(self, record) -> None:
        self.redraw()
        self.compare.set_running(False)
        done = record.done
        if done is not None:
            rate = done.steps / done.seconds if done.seconds > 0 else 0
            why = {"length": "reached max tokens", "eos": "end of text",
                   "cancelled": "stopped"}.get(done.reason, done.reason)
            note = (" · this model has no chat template, so the prompt went in as plain text"
                    if self.compare.mode.currentData() and not record.chat_template_used else "")
            self.compare.status.setText(f"{why} · {done.steps} tokens · {done.seconds:.1f} s · "
                                        f"{rate:.0f} tokens/s{note}")
            self.compare.status.setToolTip(f"{done.steps} decoding steps for all columns at "
                                           f"once; first token after "
                                           f"{(done.first_token_seconds or 0):.2f} s")
        if not self.c.is_generating():
            self.save_settings()
        self.generation_finished.emit(record)

    def _on_run_failed(self, exc) -> None:
        self.compare.set_running(False)
        self.compare.status.setText("failed")
        self.show_error("Generate", exc)
        self.generation_finished.emit(self.c.run)

    def _force_redraw(self) -> None:
        self._drawn_version = -1
        self.redraw()

    def redraw(self) -> None:
        """Called by the frame timer: one repaint for however many tokens came in."""
        record = self.c.run
        if record is None or record.version == self._drawn_version:
            return
        self._drawn_version = record.version
        focus = self.c.focus if self.c.focus >= 0 else next(iter(record.watch), -1)
        col = record.watch.index(focus) if focus in record.watch else -1
        self.compare.refresh(record, col, record.peak(focus) if col >= 0 else 1.0)
        # Plots cost the most to paint: while tokens stream they follow at half the text's
        # rate (~15 per second); the last frame of a run is always drawn.
        self._frame += 1
        if self._frame % 2 and record.done is None:
            self._drawn_version = -1          # come back next frame for the plots
            return
        self.plot.redraw(record)
        if self.plots.currentWidget() is self.heatmap:   # hidden tabs catch up when shown
            self.heatmap.redraw(record)

    def _browsed(self, index: int) -> None:
        """Browsing the list tints the outputs by that feature only when the run watched it;
        otherwise the tint stays, rather than vanishing while the user looks around."""
        if self.c.run is not None and index in self.c.run.watch:
            self.c.set_focus(index)

    def _show_token_features(self, text: str, found) -> None:
        """A double-clicked token: its top features, already known from the run."""
        self.browser.set_lights_text(text)
        self.browser.show_lights_up(text, found)
        self.browser.count.setText(f"top features at {text!r}")

    def _lights_up_on(self, text: str) -> None:
        self.browser.set_lights_text(text)
        self.c.lights_up(text)

    def _panel_rows_changed(self) -> None:
        label = self.c.features.label if self.c.features else (lambda i: f"feature {i}")
        self.compare.set_sweep_features([(i, label(i)) for i in self.c.panel.indices()])

    def _relabel_panel(self) -> None:
        """Rows restored before the catalog was known get its labels (a display fill-in, not
        an undoable edit)."""
        if self.c.features is None:
            return
        for row in self.c.panel.rows:
            if not row.label and self.c.features.label(row.index) != f"feature {row.index}":
                row.label = self.c.features.label(row.index)
        self.c.panel.rows_changed.emit()

    # -- presets -----------------------------------------------------------------------------
    def save_preset_dialog(self) -> None:
        folder = config.user_presets_dir()
        folder.mkdir(parents=True, exist_ok=True)
        name = self.c.panel.name or "my steering"
        path, _ = QFileDialog.getSaveFileName(self, "Save steering as preset",
                                              str(folder / f"{_slug(name)}.json"),
                                              "Presets (*.json)")
        if path:
            self.save_preset_to(path)

    def save_preset_to(self, path: str | Path) -> Path:
        preset = self.c.panel.to_preset()
        if self.c.session is not None and self.c.session.sae_path is not None:
            preset.description = preset.description or f"for {self.c.session.sae_path.name}"
        return save_preset(preset, path)

    def load_preset_dialog(self) -> None:
        path, _ = QFileDialog.getOpenFileName(self, "Load preset",
                                              str(config.user_presets_dir()), "Presets (*.json)")
        if path:
            self.load_preset_file(path)

    def load_preset_file(self, path: str | Path) -> bool:
        try:
            preset = load_preset(path)
            self.c.check_preset(preset)
        except InputError as exc:
            self.show_error("Load preset", exc)
            return False
        self.c.editor.load(preset)
        return True

    # -- export ------------------------------------------------------------------------------
    def comparison_html(self) -> str:
        req = self.c.open_request
        focus = self.c.focus if self.c.focus >= 0 else next(iter(self.c.run.watch), -1)
        label = self.c.features.label(focus) if self.c.features and focus >= 0 else ""
        return export.comparison_html(self.c.run, req.model if req else "",
                                      req.sae if req else "", focus, label)

    def export_html(self) -> None:
        if self.c.run is None:
            self.show_error("Export", InputError("generate something first, then export it"))
            return
        path, _ = QFileDialog.getSaveFileName(self, "Export comparison", "comparison.html",
                                              "HTML (*.html)")
        if path:
            export.save_html(path, self.comparison_html())

    def export_png(self) -> None:
        if self.c.run is None:
            self.show_error("Export", InputError("generate something first, then export it"))
            return
        path, _ = QFileDialog.getSaveFileName(self, "Export comparison", "comparison.png",
                                              "PNG (*.png)")
        if path:
            export.save_png(self.compare, path)

    # -- presentation ------------------------------------------------------------------------
    def zoom(self, factor: float | None) -> None:
        """Text size for the room: Ctrl+plus / Ctrl+minus, on top of presentation mode."""
        self._zoom = 1.0 if factor is None else min(3.0, max(0.6, self._zoom * factor))
        self.settings["zoom"] = self._zoom
        theme.apply(self.presentation_action.isChecked(), self._base_point_size * self._zoom)

    def set_presentation(self, on: bool) -> None:
        theme.apply(on, self._base_point_size * self._zoom)
        self.presentation_action.setChecked(on)
        self.menuBar().setVisible(not on)
        self.settings["presentation"] = on
        if on:
            self.main_split.widget(0).hide()     # the feature list is for preparing, not talks
            self.showFullScreen()
        else:
            self.main_split.widget(0).show()
            self.showNormal()
        for plot in (self.plot, self.heatmap.plot, self.browser.card.hist):
            style_plot(plot, on)
        self.heatmap.set_dark(on)
        for column in self.compare.columns:
            column.view.invalidate()
        if on:
            total = sum(self.main_split.sizes())
            self.main_split.setSizes([0, int(total * 0.68), int(total * 0.32)])
        self._force_redraw()

    # -- dialogs -----------------------------------------------------------------------------
    def show_error(self, title: str, exc) -> None:
        text = str(exc) if isinstance(exc, InputError) else (
            f"{type(exc).__name__}: {exc}\n\nThis looks like a bug in steerdesk; the details "
            "are printed in the terminal.")
        self.last_error = text
        self.error_shown.emit(text)
        if self.interactive:
            QMessageBox.warning(self, title, text)
        else:
            print(f"steerdesk: {title}: {text}", file=sys.stderr)

    def ask(self, title: str, text: str) -> bool:
        return QMessageBox.question(self, title, text) == QMessageBox.Yes

    # -- settings ----------------------------------------------------------------------------
    def restore_last_state(self) -> None:
        last = self.settings.get("last") or {}
        if isinstance(last.get("prompt"), str):
            self.compare.prompt.setPlainText(last["prompt"])
        if isinstance(last.get("sampling"), dict):
            try:
                self.compare.set_sampling(last["sampling"])
            except (TypeError, ValueError):
                pass
        if isinstance(last.get("panel"), dict):
            try:
                self.c.panel.apply_preset(parse_preset(last["panel"], "last session"))
            except InputError:
                pass

    def last_pair(self) -> OpenRequest | None:
        pair = (self.settings.get("last") or {}).get("pair")
        if not isinstance(pair, dict) or not pair.get("model") or not pair.get("sae"):
            return None
        return OpenRequest.from_pair(pair)

    def save_settings(self) -> None:
        s = self.compare.current_sampling()
        last = {"prompt": self.compare.prompt.toPlainText(), "sampling": asdict(s),
                "panel": self.c.panel.to_preset().to_json()}
        if self.c.session is not None and self.c.open_request is not None:
            last["pair"] = self.c.open_request.pair()
        elif isinstance((self.settings.get("last") or {}).get("pair"), dict):
            last["pair"] = self.settings["last"]["pair"]
        self.settings["last"] = last
        if not self.isFullScreen():
            self.settings["geometry"] = bytes(self.saveGeometry().toBase64()).decode()
        config.save_settings(self.settings)

    def closeEvent(self, event) -> None:
        self.frame_timer.stop()
        self.save_settings()
        self.c.shutdown()
        super().closeEvent(event)


def _model_title(name: str, path: Path) -> str:
    """'pocket pack' for the built-in model; a folder called 'model' says more by its parent."""
    try:
        if Path(path).resolve() == pack.pocket_model().resolve():
            return "pocket pack"
    except OSError:
        pass
    if name in ("model", "snapshot") or len(name) == 40:   # 40: a hub snapshot's hash
        return f"{Path(path).parent.name}/{name}"
    return name


def _slug(name: str) -> str:
    keep = "".join(ch if ch.isalnum() else "-" for ch in name.lower()).strip("-")
    return keep or "preset"
