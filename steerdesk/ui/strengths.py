"""How strong a feature has to be to steer: the strength a new panel row starts at, the '100%'
of its percent view, and converting strengths between 'x max' and raw units.

The reference comes from what was measured for the SAE: a preset of its pack that adds the
feature (the preset's strength was picked by a sweep), else the pack's calibration sweep
(`steering_sweep.json`: the smallest strength that reached the target share), else a rule of
thumb of 1x max (on the pocket pack 1x moved 30-75% of continuations at a moderate perplexity
cost, where 4x wrecked the text). No Qt."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

RULE_OF_THUMB = 1.0          # x max, for features nothing was measured for
RAW_WITHOUT_CATALOG = 8.0    # raw units, where there is no max activation to scale by
SWEEP_FILE = "steering_sweep.json"

MaxActOf = Callable[[int], "float | None"]


@dataclass(frozen=True)
class Reference:
    x_max: float          # the strength, in multiples of the feature's max activation
    source: str           # where it comes from, in words for a tooltip
    measured: bool


class StrengthGuide:
    def __init__(self, measured: dict[int, tuple[float, str]] | None = None,
                 max_act_of: MaxActOf | None = None):
        self.measured = dict(measured or {})
        self.max_act_of = max_act_of or (lambda i: None)

    @classmethod
    def for_sae(cls, sae_path: Path | None, preset_folders: list[Path],
                max_act_of: MaxActOf) -> StrengthGuide:
        found: dict[int, tuple[float, str]] = {}
        if sae_path is not None:
            found.update(_from_sweep(Path(sae_path) / SWEEP_FILE))
        for folder in preset_folders:   # a preset's strength wins over the sweep's
            found.update(_from_presets(folder, max_act_of))
        return cls(found, max_act_of)

    def max_act(self, index: int) -> float | None:
        v = self.max_act_of(index)
        return float(v) if v is not None and v > 0 else None

    def reference(self, index: int) -> Reference | None:
        """None where the feature has no max activation (no catalog): no percent view."""
        if self.max_act(index) is None:
            return None
        if index in self.measured:
            x, source = self.measured[index]
            return Reference(x, source, True)
        return Reference(RULE_OF_THUMB, "a rule of thumb (nothing was measured for this "
                         "feature)", False)

    def start_strength(self, index: int, unit: str) -> float:
        ref = self.reference(index)
        if ref is None:
            return RAW_WITHOUT_CATALOG if unit == "raw" else RULE_OF_THUMB
        return round(self.to_unit(index, ref.x_max, "max", unit), 2)

    def to_unit(self, index: int, strength: float, unit: str, new_unit: str) -> float:
        """The same strength in another unit (2x max = 2 * max activation raw)."""
        if unit == new_unit:
            return strength
        m = self.max_act(index)
        if m is None:
            return strength
        return strength * m if new_unit == "raw" else strength / m

    def to_percent(self, index: int, strength: float, unit: str) -> float | None:
        ref = self.reference(index)
        if ref is None:
            return None
        return 100.0 * self.to_unit(index, strength, unit, "max") / ref.x_max

    def from_percent(self, index: int, percent: float, unit: str) -> float | None:
        ref = self.reference(index)
        if ref is None:
            return None
        return self.to_unit(index, percent / 100.0 * ref.x_max, "max", unit)

    def percent_tip(self, index: int, unit: str) -> str:
        ref = self.reference(index)
        if ref is None:
            return ""
        raw = self.to_unit(index, ref.x_max, "max", "raw")
        return (f"100% = {ref.x_max:g}x max ({raw:.1f} raw), from {ref.source}. "
                "Below 100% the push is gentler; above it the text degrades faster.")


def _from_presets(folder: Path, max_act_of: MaxActOf) -> dict[int, tuple[float, str]]:
    from steerdesk.engine.presets import list_presets

    out: dict[int, tuple[float, str]] = {}
    try:
        found = list_presets(folder)
    except OSError:
        return out
    for preset, _path in found:
        for f in preset.features:
            if f.mode != "add" or f.strength <= 0:
                continue
            x = f.strength
            if preset.unit == "raw":
                m = max_act_of(f.index)
                if not m:
                    continue
                x = f.strength / m
            out[f.index] = (round(x, 3), f"the preset '{preset.name}'")
    return out


def _from_sweep(path: Path) -> dict[int, tuple[float, str]]:
    """The smallest strength at which each swept feature reached the sweep's target share."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        target = float(data.get("rule", {}).get("target_share", 0.9))
        results = list(data.get("results", []))
    except (OSError, ValueError, TypeError, AttributeError):
        return {}
    out: dict[int, tuple[float, str]] = {}
    for r in results:
        try:
            index, strength, share = int(r["index"]), float(r["strength"]), float(r["share"])
        except (KeyError, TypeError, ValueError):
            continue
        if share >= target and (index not in out or strength < out[index][0]):
            out[index] = (strength, f"the pack's calibration sweep (reached {share:.0%} of "
                                    "continuations)")
    return out
