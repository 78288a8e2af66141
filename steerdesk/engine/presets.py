"""Steering presets: a shareable JSON file holding one steered variant.

    {"name": "speak German", "description": "...", "unit": "max" | "raw",
     "features": [{"index": 12, "label": "German text", "mode": "add", "strength": 1.5}]}

Optional keys: "enabled" per feature (default true; disabled features are kept in the file but
not applied), "rules": conditional steering, each rule as its text (engine/rule_grammar.py,
e.g. ["when 12>3.5 then 40=8 for 5"]; default none), "steerdesk_preset": format version,
"prompt_equivalent": an instruction meant to get the same effect by prompting alone (e.g.
"Auf Deutsch:"), which `generate --prompted-from-preset` and `evaluate` put beside the steered
column (the prompted column, engine/prompted.py; absent or "" means none), and "vectors":
steering vectors built from examples (engine/diffmean.py), each

    {"name": "formal", "strength": 1.0, "direction": [d_model numbers], "typical": 3.2,
     "hook": "blocks.6.hook_resid_post", "model": "...", "d_model": 768, "enabled": true}

with the strength in multiples of its typical activation (1.0 adds one typical activation
along the direction). A preset without "vectors" has none. The app and the CLI read and write
this format; presets from before rules, vectors and prompt equivalents stay valid.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from steerdesk.engine import atomic
from steerdesk.engine.diffmean import SteeringVector, vector_from_json
from steerdesk.engine.errors import InputError
from steerdesk.engine.rules import Rule, parse_rule
from steerdesk.engine.sae.files import read_json_value
from steerdesk.engine.steering import MODES, UNITS, FeatureSteer, SteeringSpec, VectorSteer

FORMAT_VERSION = 1


@dataclass
class PresetFeature:
    index: int
    strength: float
    mode: str = "add"
    label: str = ""
    enabled: bool = True


@dataclass
class PresetVector:
    vector: SteeringVector
    strength: float            # x typical
    enabled: bool = True


@dataclass
class Preset:
    name: str
    description: str = ""
    unit: str = "max"
    features: list[PresetFeature] = field(default_factory=list)
    rules: list[Rule] = field(default_factory=list)
    vectors: list[PresetVector] = field(default_factory=list)
    prompt_equivalent: str = ""       # the instruction that prompts for the same effect

    def to_spec(self) -> SteeringSpec:
        return SteeringSpec([FeatureSteer(f.index, f.strength, f.mode, f.label)
                             for f in self.features if f.enabled], unit=self.unit, name=self.name,
                            rules=list(self.rules),
                            vectors=[VectorSteer(v.vector, v.strength)
                                     for v in self.vectors if v.enabled])

    def to_json(self) -> dict[str, Any]:
        feats = []
        for f in self.features:
            item = {"index": f.index, "label": f.label, "mode": f.mode, "strength": f.strength}
            if not f.enabled:
                item["enabled"] = False
            feats.append(item)
        out = {"steerdesk_preset": FORMAT_VERSION, "name": self.name,
               "description": self.description, "unit": self.unit, "features": feats}
        if self.rules:
            out["rules"] = [rule.to_text() for rule in self.rules]
        if self.vectors:   # left out when there are none: older steerdesks read the file
            out["vectors"] = [{**v.vector.to_json(), "strength": v.strength,
                               **({} if v.enabled else {"enabled": False})}
                              for v in self.vectors]
        if self.prompt_equivalent:   # only where there is one: older files stay as they were
            out["prompt_equivalent"] = self.prompt_equivalent
        return out


def parse_preset(data: Any, where: str) -> Preset:
    if not isinstance(data, dict):
        raise InputError(f"{where}: a preset is a JSON object with name, unit and features")
    name = data.get("name")
    if not isinstance(name, str) or not name.strip():
        raise InputError(f"{where}: field 'name' is missing or empty")
    unit = data.get("unit", "max")
    if unit not in UNITS:
        raise InputError(f"{where}: field 'unit' is {unit!r}; use 'max' or 'raw'")
    raw = data.get("features")
    if not isinstance(raw, list):
        raise InputError(f"{where}: field 'features' must be a list")
    features = []
    for n, item in enumerate(raw):
        at = f"{where}: features[{n}]"
        if not isinstance(item, dict):
            raise InputError(f"{at} must be an object with index, mode and strength")
        index = item.get("index")
        if not isinstance(index, int) or isinstance(index, bool) or index < 0:
            raise InputError(f"{at}.index must be a whole number >= 0, not {index!r}")
        mode = item.get("mode", "add")
        if mode not in MODES:
            raise InputError(f"{at}.mode is {mode!r}; use one of {', '.join(MODES)}")
        strength = item.get("strength", 0.0)
        if not isinstance(strength, (int, float)) or isinstance(strength, bool) \
                or not math.isfinite(strength):
            raise InputError(f"{at}.strength must be a finite number, not {strength!r}")
        features.append(PresetFeature(index, float(strength), mode, str(item.get("label", "")),
                                      bool(item.get("enabled", True))))
    texts = data.get("rules", [])
    if not isinstance(texts, list):
        raise InputError(f"{where}: field 'rules' must be a list of rule texts")
    rules = []
    for n, text in enumerate(texts):
        try:
            rules.append(parse_rule(text))
        except InputError as exc:
            raise InputError(f"{where}: rules[{n}]: {exc.message}") from None
    prompt = data.get("prompt_equivalent", "")
    if not isinstance(prompt, str):
        raise InputError(f"{where}: field 'prompt_equivalent' must be a text (an instruction such "
                         f"as \"Answer in German\"), not {prompt!r}")
    return Preset(name.strip(), str(data.get("description", "")), unit, features, rules,
                  parse_vectors(data.get("vectors", []), where), prompt.strip())


def parse_vectors(raw: Any, where: str) -> list[PresetVector]:
    if not isinstance(raw, list):
        raise InputError(f"{where}: field 'vectors' must be a list")
    vectors = []
    for n, item in enumerate(raw):
        at = f"{where}: vectors[{n}]"
        vector = vector_from_json(item, at)
        strength = item.get("strength", 0.0)
        if not isinstance(strength, (int, float)) or isinstance(strength, bool) \
                or not math.isfinite(strength):
            raise InputError(f"{at}.strength must be a finite number, not {strength!r}")
        vectors.append(PresetVector(vector, float(strength), bool(item.get("enabled", True))))
    return vectors


def load_preset(path: str | Path) -> Preset:
    path = Path(path)
    return parse_preset(read_json_value(path), str(path))


def save_preset(preset: Preset, path: str | Path) -> Path:
    """Write atomically: a crash mid-write leaves the old file, never half a file."""
    path = Path(path)
    write_atomic(path, json.dumps(preset.to_json(), indent=2, ensure_ascii=False) + "\n")
    return path


def write_atomic(path: Path, text: str) -> None:
    atomic.write_text(path, text)


def list_presets(folder: Path | None) -> list[tuple[Preset, Path]]:
    """Readable presets in `folder`, by name; unreadable files are skipped (the GUI lists them
    elsewhere with their error)."""
    if folder is None or not Path(folder).is_dir():
        return []
    found = []
    for file in sorted(Path(folder).glob("*.json")):
        try:
            found.append((load_preset(file), file))
        except InputError:
            continue
    return sorted(found, key=lambda pair: pair[0].name.lower())


def find_preset(name: str, folder: Path | None) -> Preset:
    presets = list_presets(folder)
    for preset, _ in presets:
        if preset.name.lower() == name.lower():
            return preset
    names = ", ".join(repr(p.name) for p, _ in presets) or "none"
    raise InputError(f"preset {name!r}: not a file, and not a preset of this pack (it has {names})")


def resolve_preset(value: str | Path, sae_path: Path | None) -> Preset:
    """A preset named on the command line or in the app: a file path (anything ending in .json,
    or an existing file), else the name of a preset of the open pack (`presets/` beside its
    SAE). The CLI and the app both resolve presets here."""
    from steerdesk.engine.pack import presets_beside

    if Path(value).suffix.lower() == ".json" or Path(value).is_file():
        return load_preset(value)
    return find_preset(str(value), presets_beside(sae_path))
