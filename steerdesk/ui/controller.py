"""The app's state outside any widget: the open session, the steering panel, the current run,
and the jobs sent to the worker thread. Widgets call methods here and listen to signals."""

from __future__ import annotations

import sys
from dataclasses import asdict, dataclass

from PySide6.QtCore import QObject, Signal
from PySide6.QtGui import QUndoStack

from steerdesk.engine.errors import InputError
from steerdesk.engine.generation import GenerationRequest, stream
from steerdesk.engine.steering import FeatureSteer, SteeringSpec
from steerdesk.ui.feature_source import FeatureSource
from steerdesk.ui.panel_commands import PanelEditor
from steerdesk.ui.panel_state import PanelState
from steerdesk.ui.run_record import RunRecord
from steerdesk.ui.worker import EngineWorker, Job

TOP_FEATURES_PER_TOKEN = 8


@dataclass
class OpenRequest:
    model: str
    sae: str
    hook: str | None = None
    device: str = "auto"
    dtype: str = "auto"
    allow_pickle: bool = False
    trust_remote_code: bool = False

    @classmethod
    def from_pair(cls, pair: dict) -> OpenRequest:
        """From a remembered pair (settings, recent list); unknown keys are ignored."""
        return cls(**{k: v for k, v in pair.items()
                      if k in ("model", "sae", "hook", "device", "dtype")})

    def pair(self) -> dict:
        """What the recent list remembers (the yes to pickle/remote code is not remembered)."""
        d = asdict(self)
        d.pop("allow_pickle")
        d.pop("trust_remote_code")
        return d


@dataclass
class Sampling:
    max_new_tokens: int = 64
    temperature: float = 0.0
    top_p: float = 1.0
    seed: int = 0
    chat: bool = False


@dataclass
class Sweep:
    feature: int
    strengths: list[float]


class Controller(QObject):
    loading = Signal(object)                 # OpenRequest
    load_progress = Signal(float, str)
    session_opened = Signal(object)          # Session
    load_failed = Signal(object, object)     # exception, OpenRequest
    run_started = Signal(object)             # RunRecord
    run_finished = Signal(object)            # RunRecord
    run_failed = Signal(object)              # exception
    lights_up_done = Signal(str, object)     # text, [(index, value)]
    lights_up_failed = Signal(object)
    focus_changed = Signal(int)              # the feature that tints tokens (-1: none)

    def __init__(self, parent=None):
        super().__init__(parent)
        self.session = None
        self.open_request: OpenRequest | None = None
        self.features: FeatureSource | None = None
        self.panel = PanelState(self)
        self.undo = QUndoStack(self)
        self.editor = PanelEditor(self.panel, self.undo)
        self.run: RunRecord | None = None
        self.focus = -1
        self._gen_job: Job | None = None
        self._load_job: Job | None = None
        self._lights_job: Job | None = None
        self.worker = EngineWorker()
        self.worker.job_event.connect(self._on_event)
        self.worker.job_done.connect(self._on_done)
        self.worker.job_failed.connect(self._on_failed)
        self.worker.start()

    def shutdown(self) -> None:
        self.worker.stop()

    # -- opening -----------------------------------------------------------------------------
    def open(self, request: OpenRequest) -> None:
        from steerdesk.engine.session import open_session

        self.stop()
        self.open_request = request

        def load(job: Job):
            session = open_session(request.model, request.sae, hook=request.hook,
                                   device=request.device, dtype=request.dtype,
                                   allow_pickle=request.allow_pickle,
                                   trust_remote_code=request.trust_remote_code,
                                   progress=lambda f, m: job.emit((f, m)))
            return session, _feature_source(session)

        self._load_job = self.worker.submit("load", load)
        self.loading.emit(request)

    def adopt(self, session, request: OpenRequest) -> None:
        """Use a session opened elsewhere (tests, embedding) as if it had just loaded."""
        self.open_request = request
        self._load_job = self.worker.submit("load",
                                            lambda job: (session, _feature_source(session)))

    def is_loading(self) -> bool:
        return self._load_job is not None

    def check_preset(self, preset) -> None:
        """A preset must fit the open SAE: its features exist, and 'x max' needs a catalog."""
        s = self.session
        if s is None:
            return
        for f in preset.features:
            if f.index >= s.sae.d_sae:
                raise InputError(f"preset {preset.name!r}: feature {f.index} does not exist "
                                 f"in this SAE (it has {s.sae.d_sae} features); is the "
                                 "preset for another SAE?")
        if preset.unit == "max" and s.catalog is None:
            raise InputError(f"preset {preset.name!r} uses strengths in x max activation, "
                             "which needs this SAE's catalog; build one with steerdesk "
                             "catalog build")

    # -- generation --------------------------------------------------------------------------
    def set_focus(self, index: int) -> None:
        if index != self.focus:
            self.focus = index
            self.focus_changed.emit(index)

    def watch_list(self) -> list[int]:
        watch = self.panel.indices()
        if self.focus >= 0 and self.focus not in watch:
            watch.append(self.focus)
        return watch

    def variants(self, sweep: Sweep | None) -> tuple[list[SteeringSpec], list[str]]:
        if sweep is None:
            spec = self.panel.spec()
            return [spec], [self.panel.name or "steered"]
        specs, titles = [], []
        label = self.features.label(sweep.feature) if self.features else f"feature {sweep.feature}"
        unit = "x max" if self.panel.unit == "max" else " raw"
        for s in sweep.strengths:
            base = [f for f in self.panel.spec().features if f.index != sweep.feature]
            mode = next((r.mode for r in self.panel.rows if r.index == sweep.feature), "add")
            mode = "add" if mode == "ablate" else mode
            feats = base + [FeatureSteer(sweep.feature, s, mode, label)]
            specs.append(SteeringSpec(feats, unit=self.panel.unit,
                                      name=f"{label} {s:+g}{unit}"))
            titles.append(f"{s:+g}{unit}")
        return specs, titles

    def generate(self, prompt: str, sampling: Sampling, sweep: Sweep | None = None) -> RunRecord:
        """Start a run, cancelling the one in progress. Input errors surface via run_failed."""
        if self.session is None:
            raise RuntimeError("no model is open")
        self.stop()
        specs, titles = self.variants(sweep)
        watch = self.watch_list()
        request = GenerationRequest(prompt=prompt, variants=specs,
                                    max_new_tokens=sampling.max_new_tokens,
                                    temperature=sampling.temperature, top_p=sampling.top_p,
                                    seed=sampling.seed, chat=sampling.chat, watch=watch,
                                    top_k_features=TOP_FEATURES_PER_TOKEN)
        label_of = self.features.label if self.features else (lambda i: f"feature {i}")
        settings = [describe_spec(s, label_of) for s in specs]
        if not self.panel.rows:
            settings = ["no steering yet: add features to the steering panel"] * len(specs)
        record = RunRecord(prompt, watch, ["no steering"] + settings, ["baseline"] + titles)
        self.run = record
        session = self.session

        def run(job: Job):
            for event in stream(session, request, cancelled=job.cancel_event):
                job.emit(event)
            return record

        self._gen_job = self.worker.submit("generate", run)
        self.run_started.emit(record)
        return record

    def is_generating(self) -> bool:
        return self._gen_job is not None

    def stop(self) -> None:
        if self._gen_job is not None:
            self.worker.cancel_kind("generate")

    # -- what lights up ----------------------------------------------------------------------
    def lights_up(self, text: str, top: int = 25) -> None:
        from steerdesk.ui.lights_up import features_on_text

        if self.session is None:
            return
        session = self.session
        if self._lights_job is not None:
            self._lights_job.cancel()
        self._lights_job = self.worker.submit(
            "lights", lambda job: (text, features_on_text(session, text, top)))

    # -- worker callbacks (GUI thread) -------------------------------------------------------
    def _on_event(self, job_id: int, kind: str, payload) -> None:
        if kind == "generate" and self._gen_job is not None and job_id == self._gen_job.id:
            self.run.add(payload)
        elif kind == "load" and self._load_job is not None and job_id == self._load_job.id:
            self.load_progress.emit(*payload)

    def _on_done(self, job_id: int, kind: str, result) -> None:
        if kind == "generate" and self._gen_job is not None and job_id == self._gen_job.id:
            self._gen_job = None
            self.run_finished.emit(self.run)
        elif kind == "load" and self._load_job is not None and job_id == self._load_job.id:
            self._load_job = None
            result, self.features = result
            self.session = result
            if result.catalog is None and self.panel.unit == "max":
                self.panel.set_unit("raw")  # 'x max' needs the catalog's max activations
            self.session_opened.emit(result)
        elif kind == "lights" and self._lights_job is not None and job_id == self._lights_job.id:
            self._lights_job = None
            if result is not None:
                self.lights_up_done.emit(*result)

    def _on_failed(self, job_id: int, kind: str, exc, tb: str) -> None:
        if kind == "generate" and self._gen_job is not None and job_id == self._gen_job.id:
            self._gen_job = None
            self.run_failed.emit(exc)
        elif kind == "load" and self._load_job is not None and job_id == self._load_job.id:
            self._load_job = None
            self.load_failed.emit(exc, self.open_request)
        elif kind == "lights" and self._lights_job is not None and job_id == self._lights_job.id:
            self._lights_job = None
            self.lights_up_failed.emit(exc)
        if not isinstance(exc, InputError):  # a bug, not the user's input: keep the trace
            print(tb, file=sys.stderr)


def _feature_source(session) -> FeatureSource:
    """Built on the worker: reading a big catalog's labels and indexing them takes a moment."""
    source = FeatureSource.for_session(session)
    source.warm_up()
    return source


def describe_spec(spec: SteeringSpec, label_of) -> str:
    """What a column's steering is, in words: 'add #3 German text +4.00x max; ablate #9 ...'."""
    unit = "x max" if spec.unit == "max" else " raw"
    parts = []
    for f in spec.features:
        name = f"#{f.index} {f.label or label_of(f.index)}"
        if name.endswith(f"feature {f.index}"):
            name = f"#{f.index}"
        parts.append(f"ablate {name}" if f.mode == "ablate"
                     else f"{f.mode} {name} {f.strength:+.2f}{unit}")
    return "; ".join(parts) or "no steering (every feature is switched off)"
