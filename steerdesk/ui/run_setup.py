"""What a run is made of, before it goes to the worker: the sampling settings, an optional
sweep, and the steered variants built from the panel (one per column). No Qt here."""

from __future__ import annotations

from dataclasses import dataclass

from steerdesk.engine.describe import LabelOf
from steerdesk.engine.steering import FeatureSteer, SteeringSpec
from steerdesk.ui import wording
from steerdesk.ui.panel_state import PanelState


@dataclass
class Sampling:
    """A first start's defaults show steering well: sampled at a moderate temperature with a
    fixed seed. Greedy decoding (0) loops on the pocket model ("und der der der") where the
    same preset at 0.85 reads as the language; seed 1 is one the pack's presets were not
    picked on."""
    max_new_tokens: int = 64
    temperature: float = 0.85
    top_p: float = 1.0
    seed: int = 1
    chat: bool = False
    # "Compare with prompting": one more, unsteered column whose prompt starts with the
    # instruction (engine/prompted.py), the yardstick steering has to beat.
    prompted: bool = False
    instruction: str = ""

    def prompted_instruction(self) -> str | None:
        """The run's GenerationRequest.prompted: the instruction when the option is on."""
        return self.instruction.strip() if self.prompted else None


@dataclass
class Sweep:
    feature: int
    strengths: list[float]


def build_variants(panel: PanelState, sweep: Sweep | None,
                   label_of: LabelOf) -> tuple[list[SteeringSpec], list[str]]:
    """The steered variants and their column titles. Without a sweep: the panel as it is.
    With one: a column per strength of the swept feature, the other rows as they are; an
    ablated feature is swept as 'add' (ablating ignores the strength)."""
    if sweep is None:
        return [panel.spec()], [panel.name or "steered"]
    label = label_of(sweep.feature)
    base = panel.spec()
    others = [f for f in base.features if f.index != sweep.feature]
    mode = panel.mode_of(sweep.feature)
    mode = "add" if mode == "ablate" else mode
    specs, titles = [], []
    for s in sweep.strengths:
        title = wording.sweep_title(s, panel.unit)
        feats = others + [FeatureSteer(sweep.feature, s, mode, label or "")]
        specs.append(SteeringSpec(feats, unit=panel.unit,
                                  name=f"{wording.feature_words(sweep.feature, label)} {title}",
                                  vectors=list(base.vectors), rules=list(panel.rules)))
        titles.append(title)
    return specs, titles
