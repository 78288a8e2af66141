"""The app's state outside any widget: the open session, the steering panel, the current run,
and the tasks sent to the worker thread. Widgets call methods here and listen to signals.

Each task's callbacks say what its result means (`_opened`, a run's record, ...); a
`TaskSlot` per sort of task keeps only the latest one reporting."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

from PySide6.QtCore import QObject, Signal
from PySide6.QtGui import QUndoStack

from steerdesk.engine import compiled
from steerdesk.engine.calibration import Calibration, load_calibration, preset_references
from steerdesk.engine.errors import InputError
from steerdesk.engine.costs import result_metrics
from steerdesk.engine.generation import GenerationRequest, generate
from steerdesk.engine.presets import Preset, resolve_preset, save_preset
from steerdesk.engine.prompted import row_name
from steerdesk.engine.session_spec import SessionSpec
from steerdesk.ui import preset_library, wording
from steerdesk.ui.feature_source import FeatureSource
from steerdesk.ui.panel_commands import PanelEditor
from steerdesk.ui.panel_state import PanelState
from steerdesk.ui.run_record import RunCosts, RunRecord
from steerdesk.ui.run_setup import Sampling, Sweep, build_variants
from steerdesk.ui.worker import EngineWorker, Task, TaskSlot, gc_paused

TOP_FEATURES_PER_TOKEN = 8


class Controller(QObject):
    loading = Signal(object)                 # SessionSpec
    load_progress = Signal(float, str)
    session_opened = Signal(object)          # Session
    notice = Signal(str)                     # one line for the status bar
    load_failed = Signal(object, object)     # exception, SessionSpec
    run_started = Signal(object)             # RunRecord
    run_finished = Signal(object)            # RunRecord
    run_failed = Signal(object)              # exception
    run_progress = Signal(float, str)        # compiling the decode step ahead of a run
    lights_up_done = Signal(str, object)     # text, [(index, value)]
    lights_up_failed = Signal(object)
    focus_changed = Signal(int)              # the feature the user points at (-1: none)
    classifier_changed = Signal(object)      # the Classifier scoring the columns, or None

    def __init__(self, parent=None):
        super().__init__(parent)
        self.session = None
        self.session_spec: SessionSpec | None = None
        self.features: FeatureSource | None = None
        self.panel = PanelState()
        self.undo = QUndoStack(self)
        self.calibration = Calibration()          # the open SAE's, once one is open
        self.references: dict[int, float] = {}    # x max a loaded preset chose, per feature
        self.editor = PanelEditor(self.panel, self.undo)
        self.run: RunRecord | None = None
        self.focus = -1
        self.classifier = None           # scores each column as it streams (Tools menu)
        self.compiled_decoding = False   # the Run menu's setting; off by default (docs/benchmarks.md)
        self.worker = EngineWorker()
        self._loads = TaskSlot(self.worker)
        self._runs = TaskSlot(self.worker)
        self._lights = TaskSlot(self.worker)
        self._vectors = TaskSlot(self.worker)
        self.worker.start()

    def shutdown(self, timeout_ms: int = 5000) -> None:
        """Stop the worker, waiting at most `timeout_ms` for a task that cannot be cut short
        (a model load); it is left to end on its own after that."""
        self.worker.stop(timeout_ms)

    def label(self, index: int) -> str | None:
        """The feature's label, None when it has none (or nothing is open)."""
        return self.features.label(index) if self.features is not None else None

    # -- opening -----------------------------------------------------------------------------
    def open(self, spec: SessionSpec) -> None:
        """Load a model and SAE on the worker; `session_opened` or `load_failed` follows."""
        self.stop()
        self.session_spec = spec

        def load(task: Task):
            session = spec.open(progress=task.report_progress)
            return session, _feature_source(session)

        self._start_load(load, spec)
        self.loading.emit(spec)

    def open_with_consent(self, spec: SessionSpec, **consents: bool) -> None:
        """Open again after the user said yes (allow_pickle=True, trust_remote_code=True)."""
        self.open(replace(spec, **consents))

    def adopt(self, session, spec: SessionSpec) -> None:
        """Use a session opened elsewhere (tests, embedding) as if it had just loaded."""
        self.session_spec = spec
        self._start_load(lambda task: (session, _feature_source(session)), spec)

    def _start_load(self, fn, spec: SessionSpec) -> None:
        self._loads.submit(fn, on_progress=self.load_progress.emit, on_done=self._opened,
                           on_error=lambda exc, _tb: self.load_failed.emit(exc, spec))

    def _opened(self, result) -> None:
        session, self.features = result
        self.session = session
        self.editor.max_of = lambda index: _max_of(session, index)
        self.calibration = load_calibration(session.sae_path)
        self.references = {}
        gone = self.panel.drop_missing_features(session.sae.d_sae)
        misfit = self.panel.drop_misfit_vectors(session.sae.d_in)
        if session.catalog is None and self.panel.unit == "max":
            self.panel.set_unit("raw")      # 'x max' needs the catalog's max activations
        self.panel.fill_labels(self.features.label)
        clf = self.classifier
        dropped = clf is not None and bool(clf.d_sae) and clf.d_sae != session.sae.d_sae
        if dropped:
            self.set_classifier(None)
        self.session_opened.emit(session)
        if dropped:
            self.notice.emit("The columns are no longer scored: the classifier was made for an "
                             f"SAE with {clf.d_sae:,} features, this one has "
                             f"{session.sae.d_sae:,}")
        if gone:   # after the window's own status for the new session, so that it shows
            self.notice.emit(f"The steering panel had feature(s) {', '.join(map(str, gone[:5]))} "
                             f"that this SAE ({session.sae.d_sae:,} features) does not have; "
                             "they were removed")
        if misfit:
            self.notice.emit(f"The steering panel had steering vector(s) "
                             f"{', '.join(map(repr, misfit[:5]))} built for a model of another "
                             f"width than this one ({session.sae.d_in}); they were removed")

    def catalog_built(self, catalog) -> None:
        """A catalog was just built for the open SAE (the evidence dialog): every view that
        shows labels, evidence or 'x max' starts over from it, as after opening."""
        if self.session is None:
            return
        self.session.catalog = catalog
        self.session.max_acts = catalog.max_activations()
        self._opened((self.session, _feature_source(self.session)))

    def is_loading(self) -> bool:
        return self._loads.busy()

    # -- presets -----------------------------------------------------------------------------
    def sae_path(self) -> Path | None:
        return self.session.sae_path if self.session is not None else None

    def preset_folders(self) -> list[tuple[str, Path]]:
        return preset_library.preset_folders(self.sae_path())

    def check_preset(self, preset: Preset) -> None:
        if self.session is not None:
            preset_library.check_preset(preset, self.session.sae.d_sae,
                                        self.session.catalog is not None, self.session.sae.d_in)

    def load_preset(self, value: str | Path) -> Preset:
        """A preset file, or the name of a preset of the open pack, onto the panel (one undo
        step) once it fits the open SAE. Raises InputError."""
        preset = resolve_preset(value, self.sae_path())
        self.check_preset(preset)
        # before the panel rebuilds, so that its percent view starts from the preset's figures
        self.references.update(preset_references(preset, lambda i: _max_of(self.session, i)))
        self.editor.load(preset)
        return preset

    def save_preset(self, path: str | Path) -> Path:
        preset = self.panel.to_preset()
        if self.sae_path() is not None:
            preset.description = preset.description or f"for {self.sae_path().name}"
        return save_preset(preset, path)

    # -- focus: the feature that tints the tokens --------------------------------------------
    def set_focus(self, index: int) -> None:
        """A feature picked to tint the tokens by (its name in the panel); -1: the default,
        every steered feature. Browsing the feature list never moves the tint."""
        if index != self.focus:
            self.focus = index
            self.focus_changed.emit(index)

    def tint_features(self) -> list[int]:
        """What tints the tokens: the picked feature where the run steered it, else every
        feature the run steered (all it watched); [] without a run."""
        if self.run is None:
            return []
        if self.focus in self.run.watch:
            return [self.focus]
        return list(self.run.watch)

    def add_feature(self, index: int) -> None:
        """A feature from the list, at the strength at which it reliably steers (calibration),
        not a blanket one: in x max, or that times its max activation in raw."""
        self.editor.add(index, self.label(index) or "", self.start_strength(index))

    def start_strength(self, index: int) -> float:
        x = self.calibration.strength(index)
        if self.panel.unit == "max":
            return x
        peak = _max_of(self.session, index)
        return round(x * peak, 2) if peak is not None else 8.0

    def full_strength(self, index: int) -> tuple[float, str] | None:
        """What the percent view calls 100% for feature `index`, in the panel's unit, and a
        sentence saying what it is; None where raw units have no max to scale by. The sweep's
        measured strength counts first (so the same strength reads the same percent before a
        preset is saved and after it is loaded back), then a loaded preset's own strength,
        then the calibration's stand-in (the median of the sweep, or the default)."""
        from_preset = index in self.references and not self.calibration.measured(index)
        if from_preset:
            x, why = self.references[index], "its strength in the preset loaded"
        else:
            x, why = self.calibration.strength(index), self.calibration.explain(index)
        if self.panel.unit == "max":
            return x, f"100% = {x:g}x max, {why}" if from_preset else f"100% = {why}"
        peak = _max_of(self.session, index)
        if peak is None:
            return None
        return x * peak, f"100% = {x * peak:.4g} raw ({x:g}x max), " + (
            why if from_preset else why.split(": ", 1)[-1])

    def watch_list(self) -> list[int]:
        """The steered features, and only those: the panel's rows, then the features its rules
        steer (a panel of rules alone plots and tints what they steer). Browsing never adds a
        plot line for a feature that was not run."""
        rows = self.panel.indices()
        ruled = [f.index for rule in self.panel.rules if not rule.stops for f in rule.action]
        return rows + [i for i in dict.fromkeys(ruled) if i not in rows]

    def set_classifier(self, classifier) -> None:
        """Score the columns of the next runs with `classifier` (None: stop scoring). Raises
        InputError when it was made for an SAE of another size than the open one."""
        if classifier is not None and self.session is not None and classifier.d_sae \
                and classifier.d_sae != self.session.sae.d_sae:
            raise InputError(f"this classifier was made for an SAE with {classifier.d_sae:,} "
                             f"features; the open SAE has {self.session.sae.d_sae:,}")
        self.classifier = classifier
        self.classifier_changed.emit(classifier)

    def request_watch(self) -> list[int]:
        """What the run reads: the steered features, then the classifier's others."""
        watch = self.watch_list()
        extra = self.classifier.features if self.classifier is not None else []
        return watch + [i for i in dict.fromkeys(extra) if i not in watch]

    # -- generation --------------------------------------------------------------------------
    def generate(self, prompt: str, sampling: Sampling, sweep: Sweep | None = None) -> RunRecord:
        """Start a run, replacing the one in progress. Input errors surface via run_failed."""
        if self.session is None:
            raise RuntimeError("no model is open")
        specs, titles = build_variants(self.panel, sweep, self.label)
        watch, columns = self.watch_list(), self.request_watch()
        prompted = sampling.prompted_instruction()
        if prompted == "":
            raise InputError("'Compare with prompting' is on but its instruction is empty: "
                             "type one, such as 'Answer in German', or turn it off")
        request = GenerationRequest(prompt=prompt, variants=specs,
                                    max_new_tokens=sampling.max_new_tokens,
                                    temperature=sampling.temperature, top_p=sampling.top_p,
                                    seed=sampling.seed, chat=sampling.chat, watch=columns,
                                    top_k_features=TOP_FEATURES_PER_TOKEN,
                                    compile=self.compiled_decoding, fit_prompt=True,
                                    prompted=prompted)
        settings = wording.column_settings(specs, bool(self.panel.rows or self.panel.rules),
                                           self.label)
        settings, titles = ["no steering"] + settings, ["baseline"] + titles
        if prompted is not None:
            settings.append(wording.PROMPTED_SETTINGS)
            titles.append(row_name(prompted))
        record = RunRecord(prompt, watch, settings, titles,
                           chat_requested=sampling.chat, specs=list(specs),
                           unit=self.panel.unit, sampling=sampling,
                           compile_requested=self.compiled_decoding,
                           classifier=self.classifier, columns=columns, prompted=prompted,
                           reach_max=_max_of(self.session, watch[0]) if watch else None)
        self.run = record
        session = self.session

        def run(task: Task):
            with gc_paused(bool(request.compile)):
                if request.compile:   # the first run of a shape compiles: say so, as progress
                    compiled.prepare(session, request, progress=task.report_progress)
                result = generate(session, request, cancelled=task.cancel_event,
                                  on_event=task.emit)
            if not task.forgotten:   # each column's costs, before the run reports it ended
                task.emit(RunCosts(result_metrics(session, result, request.watch)))
            return record

        self._runs.submit(run, on_event=record.add, on_progress=self.run_progress.emit,
                          on_done=lambda _: self.run_finished.emit(record),
                          on_error=lambda exc, _tb: self.run_failed.emit(exc))
        self.run_started.emit(record)
        return record

    def is_generating(self) -> bool:
        return self._runs.busy()

    def stop(self) -> None:
        """Stop the run; it still finishes (reason 'cancelled') through run_finished."""
        self._runs.stop()

    # -- steering vectors from examples -----------------------------------------------------
    def build_vector(self, texts_a: list[str], texts_b: list[str], name: str, *,
                     on_done, on_error) -> None:
        """Build a DiffMean vector on the worker; `on_done(vector)` or `on_error(exc)` follows
        on the GUI thread. The caller adds it to the panel (`add_vector`)."""
        from steerdesk.engine.diffmean import build_vector

        if self.session is None:
            raise RuntimeError("no model is open")
        session = self.session
        self._vectors.submit(lambda task: build_vector(session, texts_a, texts_b, name=name),
                             on_done=on_done, on_error=lambda exc, _tb: on_error(exc))

    def is_building_vector(self) -> bool:
        return self._vectors.busy()

    def add_vector(self, vector, strength: float = 1.0) -> None:
        """A vector onto the panel (one undo step); another hook or model is a notice."""
        if self.session is not None:
            notes = vector.fit_notes(self.session.sae.d_in, self.session.hook.name,
                                     self.session.lm.name)
            if notes:
                self.notice.emit("; ".join(notes))
        self.editor.add_vector(vector, strength)

    # -- what lights up ----------------------------------------------------------------------
    def lights_up(self, text: str, top: int = 25) -> None:
        from steerdesk.ui.lights_up import features_on_text

        if self.session is None:
            return
        session = self.session
        self._lights.submit(lambda task: features_on_text(session, text, top),
                            on_done=lambda found: self.lights_up_done.emit(text, found),
                            on_error=lambda exc, _tb: self.lights_up_failed.emit(exc))


def _feature_source(session) -> FeatureSource:
    """Built on the worker: reading a big catalog's labels and indexing them takes a moment."""
    source = FeatureSource.for_session(session)
    source.warm_up()
    return source


def _max_of(session, index: int) -> float | None:
    """The catalog's max activation of feature `index`, or None where it has none."""
    acts = getattr(session, "max_acts", None)
    if acts is None or not 0 <= index < len(acts):
        return None
    value = float(acts[index])
    return value if value > 0 else None
