"""How hard to steer a feature: the strength at which it reliably steers, from a calibration
sweep beside the SAE (`steering_sweep.json`, written by the pocket pack's build).

The sweep ran each candidate feature at 0.5-8x its max activation and judged sampled
continuations. A feature's *reliable strength* is the smallest swept strength at which at
least the sweep's target share (90%) of continuations came out as the concept. A feature the
sweep did not try gets the median of the chosen strengths (what reliably steered this SAE's
features); an SAE with no sweep gets `DEFAULT_X_MAX`.

This is where a feature newly added to the panel starts (a blanket 4x max wrecked the text:
"und und und"), and what the panel's percent view calls 100%: a measured strength first, then
a loaded preset's own strength, then the median or default.
"""

from __future__ import annotations

import statistics
from dataclasses import dataclass, field
from pathlib import Path

from steerdesk.engine.errors import InputError
from steerdesk.engine.userfiles import read_json_value

SWEEP_FILE = "steering_sweep.json"
# With no calibration: as strong as the feature ever gets on its own. Gentle; the text stays
# readable on the SAEs tried (GPT-2 small, the pocket pack), and the slider goes to 10x.
DEFAULT_X_MAX = 1.0


@dataclass
class Calibration:
    reliable: dict[int, float] = field(default_factory=dict)   # feature -> x max
    fallback: float = DEFAULT_X_MAX                              # x max, for other features
    source: str = ""          # where the figures came from, in words, for tooltips

    def measured(self, index: int) -> bool:
        """Whether the sweep tried feature `index` and found where it reliably steers (its
        strength is a measurement, not the median or default stand-in)."""
        return int(index) in self.reliable

    def strength(self, index: int) -> float:
        """The reliable strength of feature `index`, in multiples of its max activation."""
        return self.reliable.get(int(index), self.fallback)

    def explain(self, index: int) -> str:
        """What 100% means for this feature, in one sentence."""
        s = self.strength(index)
        if int(index) in self.reliable:
            return f"{s:g}x max: the strength at which this feature reliably steered ({self.source})"
        if self.source:
            return (f"{s:g}x max: the strength at which this SAE's features reliably steered "
                    f"({self.source}; this feature was not swept)")
        return f"{s:g}x max: as strong as this feature ever gets on its own (no calibration)"


def load_calibration(sae_path: str | Path | None) -> Calibration:
    """The calibration beside an SAE (its folder or file), or the default one. A damaged
    sweep file is not an error here: steering works without it, at the default strength."""
    if sae_path is None:
        return Calibration()
    p = Path(sae_path)
    folder = p if p.is_dir() else p.parent
    path = folder / SWEEP_FILE
    if not path.is_file():
        return Calibration()
    try:
        return parse_sweep(read_json_value(path, what="calibration sweep"), path.name)
    except InputError:
        return Calibration()


def parse_sweep(data, where: str = SWEEP_FILE) -> Calibration:
    """A Calibration from a sweep's JSON: `rule.target_share`, `results` (one entry per feature
    and strength, with the share judged as the concept) and `chosen` (the strength picked per
    concept)."""
    if not isinstance(data, dict):
        raise InputError(f"{where}: not a steering sweep")
    target = data.get("rule", {}).get("target_share", 0.9) if isinstance(
        data.get("rule"), dict) else 0.9
    reliable: dict[int, float] = {}
    for r in data.get("results", []) if isinstance(data.get("results"), list) else []:
        try:
            index, strength, share = int(r["index"]), float(r["strength"]), float(r["share"])
        except (KeyError, TypeError, ValueError):
            continue
        if share >= target and strength > 0 and strength < reliable.get(index, float("inf")):
            reliable[index] = strength
    chosen = data.get("chosen", {})
    picked = [float(c["strength"]) for c in chosen.values()
              if isinstance(c, dict) and isinstance(c.get("strength"), (int, float))
              and c["strength"] > 0] if isinstance(chosen, dict) else []
    fallback = statistics.median(picked) if picked else DEFAULT_X_MAX
    n = len(data.get("rule", {}).get("seeds", [])) if isinstance(data.get("rule"), dict) else 0
    source = (f"{int(target * 100)}% of {n} sampled continuations steered, in the pack's "
              "calibration sweep") if n else "the SAE's calibration sweep"
    return Calibration(reliable, fallback, source)


def preset_references(preset, max_of) -> dict[int, float]:
    """{feature: x max} of a preset's steered features: the strengths someone chose for them,
    which the percent view calls 100% where the sweep did not measure the feature. Raw strengths are scaled by `max_of(index)` (None where
    the feature has no max); ablated and zero-strength features have no reference."""
    out: dict[int, float] = {}
    for f in preset.features:
        if f.mode == "ablate" or f.strength == 0:
            continue
        if preset.unit == "max":
            out[f.index] = abs(float(f.strength))
        else:
            peak = max_of(f.index)
            if peak:
                out[f.index] = abs(float(f.strength)) / peak
    return out
