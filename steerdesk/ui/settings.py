"""What the app remembers between starts: text size, presentation mode, the window's place,
recent model + SAE pairs, and the last session (prompt, sampling, steering panel, pair).

Reading is tolerant, field by field: a damaged or hand-edited file loses only the parts that
are wrong (each is checked and defaulted on its own) and never stops the app from starting;
`Settings.problems` names what was dropped, for a one-line notice. Keys this version does not
know are kept and written back as they were."""

from __future__ import annotations

import base64
import json
import math
from dataclasses import asdict, dataclass, field
from typing import Any

from steerdesk.engine.errors import InputError
from steerdesk.engine.presets import Preset, parse_preset, parse_vectors, write_atomic
from steerdesk.engine.session_spec import SessionSpec
from steerdesk.engine.userfiles import read_json_value
from steerdesk.ui.config import settings_path
from steerdesk.ui.run_setup import Sampling

MAX_RECENT = 10
BROKEN = ".broken"                      # suffix of an unreadable settings file, kept aside
ZOOM_RANGE = (0.6, 3.0)
MAX_TOKENS_RANGE = (1, 4096)           # the compare view's spin boxes
TEMPERATURE_RANGE = (0.0, 2.0)
SEED_RANGE = (0, 2 ** 31 - 1)


@dataclass
class LastSession:
    prompt: str | None = None
    sampling: Sampling | None = None
    panel: Preset | None = None
    pair: SessionSpec | None = None


@dataclass
class Settings:
    zoom: float = 1.0
    presentation: bool = False
    compiled: bool = False                 # Run > Compiled decoding (issue 15)
    geometry: str | None = None            # QMainWindow.saveGeometry(), base64
    splitters: dict[str, str] = field(default_factory=dict)   # name -> saveState(), base64
    recent: list[SessionSpec] = field(default_factory=list)
    last: LastSession = field(default_factory=LastSession)
    extra: dict[str, Any] = field(default_factory=dict)
    problems: list[str] = field(default_factory=list)   # what reading dropped; never saved
    unreadable: bool = False       # the whole file: kept aside (BROKEN) at the next save

    @classmethod
    def from_json(cls, data: Any) -> Settings:
        if not isinstance(data, dict):
            return cls(problems=[f"the file holds {type(data).__name__}, not settings"])
        problems: list[str] = []

        def get(d: dict, key: str, read, default, where: str = ""):
            return _field(d, key, read, default, problems, where)

        last = data.get("last", {})
        if not isinstance(last, dict):
            problems.append("last")
            last = {}
        known = {"zoom", "presentation", "compiled", "geometry", "splitters", "recent", "last"}
        return cls(
            zoom=get(data, "zoom", lambda v: _number(v, *ZOOM_RANGE), 1.0),
            presentation=get(data, "presentation", _bool, False),
            compiled=get(data, "compiled", _bool, False),
            geometry=get(data, "geometry", _base64, None),
            splitters=get(data, "splitters", _splitters, {}),
            recent=get(data, "recent", _recent, []),
            last=LastSession(prompt=get(last, "prompt", _str, None, "last."),
                             sampling=get(last, "sampling", _sampling, None, "last."),
                             panel=get(last, "panel", _panel, None, "last."),
                             pair=get(last, "pair", _pair, None, "last.")),
            extra={k: v for k, v in data.items() if k not in known},
            problems=problems)

    def to_json(self) -> dict[str, Any]:
        last: dict[str, Any] = {}
        if self.last.prompt is not None:
            last["prompt"] = self.last.prompt
        if self.last.sampling is not None:
            last["sampling"] = asdict(self.last.sampling)
        if self.last.panel is not None:
            last["panel"] = self.last.panel.to_json()
        if self.last.pair is not None:
            last["pair"] = self.last.pair.pair()
        out = dict(self.extra)
        out.update(zoom=self.zoom, presentation=self.presentation, compiled=self.compiled,
                   recent=[s.pair() for s in self.recent], last=last)
        if self.geometry is not None:
            out["geometry"] = self.geometry
        if self.splitters:
            out["splitters"] = dict(self.splitters)
        return out

    def remember(self, spec: SessionSpec) -> None:
        """Put `spec` first in the recent list, without repeats of its model + SAE."""
        others = [s for s in self.recent if (s.model, s.sae) != (spec.model, spec.sae)]
        self.recent = [SessionSpec.from_pair(spec.pair())] + others[: MAX_RECENT - 1]


def load_settings() -> Settings:
    """A missing file reads as the defaults; an unreadable one too, with a problem saying so
    (it is left as it is until the app next saves its settings)."""
    path = settings_path()
    if not path.exists() and not path.is_symlink():
        return Settings()
    try:
        data = read_json_value(path, max_bytes=16 * 1024 * 1024, what="settings file")
    except InputError as exc:
        return Settings(problems=[f"{exc.message}; it will be kept as {path.name}{BROKEN}"],
                        unreadable=True)
    return Settings.from_json(data)


def save_settings(settings: Settings) -> None:
    path = settings_path()
    try:
        if settings.unreadable and path.is_file():   # a hand edit gone wrong is not lost
            path.replace(path.with_name(path.name + BROKEN))
            settings.unreadable = False
        write_atomic(path, json.dumps(settings.to_json(), indent=2, ensure_ascii=False) + "\n")
    except (OSError, InputError):
        pass  # a read-only config folder costs the user their settings, not their session


# -- readers: each returns the value or raises ValueError / TypeError -----------------------
def _field(data: dict, key: str, read, default, problems: list[str] | None = None,
           where: str = ""):
    if key not in data:
        return default
    try:
        return read(data[key])
    except (TypeError, ValueError, InputError, RecursionError):
        if problems is not None:
            problems.append(where + key)
        return default


def _bool(v: Any) -> bool:
    if not isinstance(v, bool):
        raise TypeError(v)
    return v


def _str(v: Any) -> str:
    if not isinstance(v, str):
        raise TypeError(v)
    return v


def _number(v: Any, lo: float, hi: float) -> float:
    if isinstance(v, bool) or not isinstance(v, (int, float)) or not math.isfinite(v) \
            or not lo <= v <= hi:
        raise ValueError(v)
    return float(v)


def _whole(v: Any, lo: int, hi: int) -> int:
    if isinstance(v, bool) or not isinstance(v, int) or not lo <= v <= hi:
        raise ValueError(v)
    return v


def _base64(v: Any) -> str:
    base64.b64decode(_str(v).encode("ascii"), validate=True)   # raises a ValueError
    return v



def _pair(v: Any) -> SessionSpec:
    if not isinstance(v, dict):
        raise TypeError(v)
    spec = SessionSpec.from_pair(v)
    if not spec.model or not spec.sae:
        raise ValueError("a pair needs a model and an SAE")
    return spec


def _splitters(v: Any) -> dict[str, str]:
    if not isinstance(v, dict):
        raise TypeError(v)
    return {str(k): _base64(s) for k, s in v.items()}


def _recent(v: Any) -> list[SessionSpec]:
    if not isinstance(v, list):
        raise TypeError(v)
    kept = []
    for item in v:
        try:
            kept.append(_pair(item))
        except (TypeError, ValueError):
            continue
    return kept[:MAX_RECENT]


def _sampling(v: Any) -> Sampling:
    if not isinstance(v, dict):
        raise TypeError(v)
    d = Sampling()
    return Sampling(
        max_new_tokens=_field(v, "max_new_tokens", lambda x: _whole(x, *MAX_TOKENS_RANGE),
                              d.max_new_tokens),
        temperature=_field(v, "temperature", lambda x: _number(x, *TEMPERATURE_RANGE),
                           d.temperature),
        top_p=_field(v, "top_p", _positive_fraction, d.top_p),
        seed=_field(v, "seed", lambda x: _whole(x, *SEED_RANGE), d.seed),
        chat=_field(v, "chat", _bool, d.chat),
        prompted=_field(v, "prompted", _bool, d.prompted),
        instruction=_field(v, "instruction", _str, d.instruction))


def _positive_fraction(v: Any) -> float:
    value = _number(v, 0.0, 1.0)
    if value == 0.0:
        raise ValueError(v)
    return value


def _panel(v: Any) -> Preset:
    """The whole panel if it reads; else the features and steering vectors that read on their
    own."""
    try:
        return parse_preset(v, "last session")
    except InputError:
        if not isinstance(v, dict) or not isinstance(v.get("features"), list):
            raise
    head = {**v, "name": v.get("name") if isinstance(v.get("name"), str) and v["name"].strip()
            else "my steering"}
    head.pop("vectors", None)
    if head.get("unit") not in ("max", "raw"):
        head["unit"] = "max"
    features = []
    for item in v["features"]:
        try:
            features += parse_preset({**head, "features": [item]}, "last session").features
        except InputError:
            continue
    vectors = []
    for item in v.get("vectors") if isinstance(v.get("vectors"), list) else []:
        try:
            vectors += parse_vectors([item], "last session")
        except InputError:
            continue
    preset = parse_preset({**head, "features": []}, "last session")
    preset.features, preset.vectors = features, vectors
    return preset
