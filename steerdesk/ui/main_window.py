"""The main window: feature browser | prompt, outputs and plots | steering panel.

It lays the widgets out and wires them to the controller. What only a window has stays
here: dialogs, the frame timer and saving the session on the way out. Menus, presentation
mode, wording and settings live in their own modules."""

from __future__ import annotations

from PySide6.QtCore import QByteArray, Qt, QTimer, Signal
from PySide6.QtWidgets import QApplication, QMainWindow

from steerdesk.engine.errors import InputError
from steerdesk.engine.session_spec import SessionSpec
from steerdesk.ui import export, settings, theme, wording
from steerdesk.ui.compare_view import CompareView
from steerdesk.ui.controller import Controller
from steerdesk.ui.dialogs import Dialogs
from steerdesk.ui.feature_browser import FeatureBrowser
from steerdesk.ui.layout import boxed, splitter, titled
from steerdesk.ui.menus import Menus
from steerdesk.ui.open_dialog import OpenDialog
from steerdesk.ui.plots import PlotTabs, y_scale
from steerdesk.ui.presentation import Presentation
from steerdesk.ui.settings import LastSession
from steerdesk.ui.status_line import StatusLine
from steerdesk.ui.steering_panel import SteeringPanel

FRAME_MS = 33          # redraw at most ~30 times a second, however fast tokens come
FIRST_PRESET = "speak German"   # the pocket pack's preset a first start opens with
CLOSE_WAIT_MS = 300    # closing waits this long for the worker (a run stops within a token)


class MainWindow(QMainWindow):
    generation_finished = Signal(object)     # RunRecord
    session_ready = Signal(object)           # Session
    error_shown = Signal(str)

    def __init__(self, interactive: bool = True):
        super().__init__()
        self.dialogs = Dialogs(self, interactive)   # not interactive: errors are printed
        self.dialogs.error_shown.connect(self.error_shown)
        self.settings = settings.load_settings()
        self.c = Controller(self)
        self.setWindowTitle("steerdesk")
        icon = theme.app_icon()
        if icon is not None:
            self.setWindowIcon(icon)
            QApplication.instance().setWindowIcon(icon)
        self._drawn_version = -1

        self.browser = FeatureBrowser()
        self.compare = CompareView()
        self.panel = SteeringPanel(self.c)
        self.plots = PlotTabs()
        center = splitter(Qt.Vertical, [self.compare, self.plots], [520, 330], [3, 2])
        # Right: the steering panel, as tall as its rows, and the selected feature's card,
        # which gets the rest (its evidence needs the room; the panel was ~85% empty).
        self.side_split = splitter(Qt.Vertical, [self.panel, self.browser.card], [180, 680],
                                   [0, 1])
        features = titled("Features", self.browser)
        features.setMinimumWidth(240)   # squeezed to 110 px its labels read "…", and stayed so
        self.main_split = splitter(Qt.Horizontal, [features, center, self.side_split],
                                   [420, 660, 400], [0, 1, 0])
        self.splitters = {"main": self.main_split, "center": center, "side": self.side_split}
        self.setCentralWidget(boxed(self.main_split, margins=(6, 4, 6, 0)))
        self.status = StatusLine(self.statusBar())

        self.view = Presentation(self, self.main_split,
                                 [self.browser.card, *self.compare.presentation_hidden(),
                                  *self.panel.presentation_hidden()],
                                 [self.plots, self.browser, self.compare],
                                 self._force_redraw, self.settings)
        self.menus = Menus(self)
        self.menus.fill_recent(self.settings.recent)
        self.set_compiled_decoding(self.settings.compiled)
        self._connect()
        self.frame_timer = QTimer(self, interval=FRAME_MS)
        self.frame_timer.timeout.connect(self.redraw)
        self.frame_timer.start()
        # A first start (nothing remembered) opens the pocket pack with a preset ready, so the
        # first Generate already shows steering.
        self.first_start = self.settings.last == LastSession() and not self.settings.recent
        self.restore_last_state()
        self.resize(1480, 900)
        if self.settings.geometry is not None:
            self.restoreGeometry(QByteArray.fromBase64(self.settings.geometry.encode()))
        for name, state in self.settings.splitters.items():
            if name in self.splitters:
                self.splitters[name].restoreState(QByteArray.fromBase64(state.encode()))
        # after the panel has rebuilt and laid out its rows
        self.c.panel.rows_changed.connect(lambda: QTimer.singleShot(0, self.fit_panel))
        # a rule takes four lines: the rows above it must not shrink behind a scrollbar
        self.c.panel.rules_changed.connect(lambda: QTimer.singleShot(0, self.fit_panel))
        self.panel.rules.rules_changed.connect(lambda *_: QTimer.singleShot(0, self.fit_panel))
        if self.settings.problems:
            self.status.show_status(wording.settings_problems(self.settings.problems))
        if self.settings.presentation:
            QTimer.singleShot(0, lambda: self.set_presentation(True))

    def _connect(self) -> None:
        c, b, cv = self.c, self.browser, self.compare
        c.loading.connect(lambda spec: self.status.start_progress(
            wording.loading_line(spec.pair())))
        c.loading.connect(lambda spec: cv.set_model_open(
            False, wording.opening_note(spec.pair())))
        c.load_progress.connect(self.status.show_progress)
        c.session_opened.connect(self._on_session)
        c.load_failed.connect(self._on_load_failed)
        c.notice.connect(self.status.show_status)
        c.run_finished.connect(self._on_finished)
        c.run_progress.connect(lambda f, m: self.status.show_status(m))
        c.run_failed.connect(self._on_run_failed)
        c.lights_up_done.connect(b.show_lights_up)
        c.lights_up_failed.connect(lambda e: self.show_error("What lights up", e))
        c.focus_changed.connect(lambda _: self._force_redraw())
        c.panel.rows_changed.connect(lambda: cv.set_sweep_features(
            [(i, c.label(i)) for i in c.panel.indices()]))
        self.plots.shown.connect(self._force_redraw)
        b.add_requested.connect(c.add_feature)
        b.label_changed.connect(lambda _i: self.panel.rebuild())
        b.lights_up_requested.connect(c.lights_up)
        cv.generate_clicked.connect(self.generate)
        cv.stop_clicked.connect(self.stop)
        cv.lights_up_requested.connect(lambda text: (b.set_lights_text(text), c.lights_up(text)))
        cv.open_requested.connect(self.show_open_dialog)
        cv.token_features.connect(b.show_token_features)
        cv.tint_reset.connect(lambda: c.set_focus(-1))
        b.evidence_requested.connect(self.menus.build_evidence_dialog)

    # -- opening -----------------------------------------------------------------------------
    def show_open_dialog(self) -> None:
        from steerdesk.engine.models import cached_models

        dialog = OpenDialog(self.settings.recent, cached_models(), self, self.c.session_spec)
        if dialog.exec():
            self.open_pair(dialog.spec())

    def open_pair(self, spec: SessionSpec) -> None:
        self.c.open(spec)

    def _on_session(self, session) -> None:
        self.status.end_progress(wording.session_line(session))
        self.setWindowTitle(f"steerdesk — {wording.session_name(session)}")
        self.browser.set_source(self.c.features)
        self.compare.set_model_open(True)
        if session.catalog is None:
            self.status.show_status(wording.NO_CATALOG)
        self.panel.set_max_unit_allowed(session.catalog is not None)
        self._offer_compiled_decoding(session)
        self._first_start_preset()
        self.settings.remember(self.c.session_spec)
        self.menus.fill_recent(self.settings.recent)
        self.save_settings()
        self.session_ready.emit(session)

    def fit_panel(self) -> None:
        """Grow the steering panel to show its rows (up to two thirds of its column); a panel
        the user made taller is left so."""
        sizes = self.side_split.sizes()
        total = sum(sizes)
        if total <= 0:
            return
        want = min(self.panel.content_height(), int(total * 2 / 3))
        if sizes[0] < want:
            self.side_split.setSizes([want, total - want])

    def _first_start_preset(self) -> None:
        if not self.first_start:
            return
        self.first_start = False
        pocket = SessionSpec.pocket()
        spec = self.c.session_spec
        if (pocket is None or spec is None or (spec.model, spec.sae) != (pocket.model, pocket.sae)
                or self.c.panel.rows):
            return
        if self.load_preset(FIRST_PRESET):
            self.status.show_status(wording.first_start_line(FIRST_PRESET))
            # The card beside the panel shows what the steered feature is, not a blank.
            self.browser.card.show_feature(self.c.panel.rows[0].index)

    def _on_load_failed(self, exc, spec: SessionSpec) -> None:
        self.status.end_progress(None if self.c.session is not None else "no model open")
        self.compare.set_model_open(self.c.session is not None)
        consent = self.dialogs.consent(exc)
        if consent:
            self.c.open_with_consent(spec, **consent)
        else:
            self.show_error("Could not open the model", exc)

    # -- generation --------------------------------------------------------------------------
    def generate(self) -> None:
        if self.c.session is None:
            self.show_error("Generate", InputError(
                "open a model and an SAE first (File > Open model and SAE)"))
            return
        if self.c.is_loading():   # it would run on the model being replaced
            self.status.show_status(wording.STILL_LOADING)
            return
        try:
            record = self.c.generate(self.compare.prompt_text(), self.compare.sampling(),
                                     self.compare.sweep_request())
        except InputError as exc:
            self.show_error("Generate", exc)
            return
        self.compare.start(record, self.c.label)
        self.plots.reset(record, self.c.label,
                         y_scale(record.unit, self.c.session.max_acts, record.watch), record.unit)
        self._drawn_version = -1
        self.status.show_status("generating…")

    def stop(self) -> None:
        """Esc: stops a run; with none running, leaves presentation mode."""
        if self.c.is_generating():
            self.c.stop()
            self.status.show_status("stopping…")
        elif self.view.on:
            self.set_presentation(False)

    def _on_finished(self, record) -> None:
        self.redraw()
        self.compare.set_running(False)
        ended = wording.finished_status(record)
        if ended is not None:
            self.status.show_status(*ended)
        if not self.c.is_generating():
            self.save_settings()
        self.generation_finished.emit(record)

    def _on_run_failed(self, exc) -> None:
        self.compare.set_running(False)
        self.status.show_status("failed")
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
        self.compare.refresh(record, self.c.tint_features(), self.c.focus in record.watch)
        if not self.plots.redraw(record):
            self._drawn_version = -1          # the plots skipped this frame: come back

    # -- presets, exports, view --------------------------------------------------------------
    def load_preset(self, value) -> bool:
        """A preset file or the name of one of the pack's, onto the panel; a dialog if not."""
        try:
            preset = self.c.load_preset(value)
        except InputError as exc:
            self.show_error("Load preset", exc)
            return False
        self.compare.prompting.offer(preset.prompt_equivalent)
        return True

    def comparison(self) -> export.Comparison:
        """The current run as the exports show it: texts, tint, settings and the plot."""
        from PySide6.QtCore import QBuffer, QIODevice

        spec, record = self.c.session_spec, self.c.run
        tint = self.c.tint_features()
        buffer = QBuffer()
        buffer.open(QIODevice.WriteOnly)
        self.plots.activations.grab().save(buffer, "PNG")
        plot = bytes(buffer.data()) if self.plots.activations.curves else None
        return export.Comparison(record, spec.model if spec else "", spec.sae if spec else "",
                                 tint, self.compare.tint_text, plot)

    def comparison_html(self) -> str:
        return export.comparison_html(self.comparison())

    def comparison_image(self):
        return export.comparison_image(self.comparison())

    def zoom(self, factor: float | None) -> None:
        self.view.zoom(factor)

    def set_presentation(self, on: bool) -> None:
        self.menus.presentation.setChecked(on)
        self.view.set(on)

    def set_compiled_decoding(self, on: bool) -> None:
        """Run > Compiled decoding: remembered, and used from the next run on."""
        self.menus.compiled.setChecked(on)
        self.c.compiled_decoding = bool(on) and self.menus.compiled.isEnabled()
        if self.settings.compiled != bool(on):
            self.settings.compiled = bool(on)
            self.save_settings()

    def _offer_compiled_decoding(self, session) -> None:
        """Grey the setting out, with the reason, where this device cannot compile."""
        from steerdesk.engine.compiled import unavailable_reason

        reason = unavailable_reason(session.lm.device)
        act = self.menus.compiled
        act.setEnabled(reason is None)
        act.setText("&Compiled decoding" if reason is None
                    else f"Compiled decoding (unavailable: {reason})")
        self.c.compiled_decoding = reason is None and act.isChecked()

    def set_start_in_presentation(self, on: bool) -> None:
        """Only this, never the mode itself, makes the next start open in presentation mode."""
        self.settings.presentation = on
        self.save_settings()

    def show_error(self, title: str, exc) -> None:
        self.dialogs.show_error(title, exc)

    # -- settings ----------------------------------------------------------------------------
    def restore_last_state(self) -> None:
        last = self.settings.last
        self.compare.restore(last.prompt, last.sampling)
        if last.panel is not None:
            self.c.panel.apply_preset(last.panel)

    def last_pair(self) -> SessionSpec | None:
        return self.settings.last.pair

    def save_settings(self) -> None:
        last = self.settings.last
        last.prompt = self.compare.prompt_text()
        last.sampling = self.compare.current_sampling()
        last.panel = self.c.panel.to_preset()
        if self.c.session is not None and self.c.session_spec is not None:
            last.pair = self.c.session_spec
        if not self.isFullScreen():
            self.settings.geometry = bytes(self.saveGeometry().toBase64()).decode()
        if not self.view.on:   # presentation mode's sizes are its own
            self.settings.splitters = {name: bytes(s.saveState().toBase64()).decode()
                                       for name, s in self.splitters.items()}
        settings.save_settings(self.settings)

    def closeEvent(self, event) -> None:
        self.frame_timer.stop()
        self.save_settings()
        self.c.shutdown(CLOSE_WAIT_MS)
        super().closeEvent(event)

