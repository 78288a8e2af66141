"""Steering: what to change (per feature: a mode and a strength), and the hook that changes it.

Modes, for feature i with decoder row d_i (in the model's space):
- add:    h <- h + s * d_i at every steered position;
- clamp:  h <- h + (s - a_i(h)) * d_i, where a_i is the SAE's activation of i. This equals
          decode(a with a_i = s) + (h - decode(a)): the SAE's error term is kept, so only
          feature i changes;
- ablate: clamp to 0.
A steering vector (engine/diffmean.py) at strength s adds s * typical * unit(direction), summed
with the features' adds.

Rows of a batch are variants of one prompt: row 0 is the baseline (never steered); row r >= 1
carries variant r - 1. One hook call steers all rows at once with batched tensor operations.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Iterable, Sequence

import torch

from steerdesk.engine.describe import LabelOf, describe_spec
from steerdesk.engine.diffmean import SteeringVector
from steerdesk.engine.errors import InputError
from steerdesk.engine.sae.base import SAE

if TYPE_CHECKING:   # rules.py builds on this module
    from steerdesk.engine.rules import Rule

MODES = ("add", "clamp", "ablate")
UNITS = ("raw", "max")
POSITIONS = ("all", "generated")


@dataclass(frozen=True)
class FeatureSteer:
    index: int
    strength: float = 0.0
    mode: str = "add"
    label: str = ""

    def __post_init__(self):
        if self.mode not in MODES:
            raise InputError(f"steering mode {self.mode!r}: choose one of {', '.join(MODES)}")
        if not math.isfinite(self.strength):
            raise InputError(f"feature {self.index}: strength {self.strength} is not a finite "
                             "number", field="steer")


@dataclass(frozen=True)
class VectorSteer:
    """A steering vector at a strength in multiples of its typical activation ('x typical')."""
    vector: SteeringVector
    strength: float = 0.0

    def __post_init__(self):
        if not math.isfinite(self.strength):
            raise InputError(f"steering vector {self.vector.name!r}: strength {self.strength} "
                             "is not a finite number", field="vector")


@dataclass
class SteeringSpec:
    """One steered variant: several features at once, strengths in `unit`; steering vectors
    beside them, in their own unit (x typical); and rules (engine/rules.py) that steer or stop
    it when their condition holds."""

    features: list[FeatureSteer] = field(default_factory=list)
    unit: str = "raw"
    name: str = ""
    rules: list[Rule] = field(default_factory=list)
    vectors: list[VectorSteer] = field(default_factory=list)

    def __post_init__(self):
        if self.unit not in UNITS:
            raise InputError(f"strength unit {self.unit!r}: choose raw or max")

    def describe(self, label_of: LabelOf | None = None) -> str:
        """Its name, else its features and rules in words ('add #12 German text +1.50x max;
        when #3 is above 2, stop')."""
        return self.name or describe_spec(self, label_of)


_NUM = r"[-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?"
# IDX, IDX=NUM (in the default mode), IDX=MODE or IDX=MODE:NUM
_SPEC_ITEM = re.compile(rf"^\s*(\d+)\s*(?:=\s*(?:({'|'.join(MODES)})\s*(?::\s*({_NUM}))?"
                        rf"|({_NUM})))?\s*$")


def parse_spec(text: str, mode: str = "add", unit: str = "raw",
               notes: list[str] | None = None) -> SteeringSpec:
    """One variant as the CLI's --steer takes it: `598=2,1416=ablate,77=clamp:5`. A bare
    `IDX=STRENGTH` is in `mode`; ablate needs no strength. A strength given with ablate is not
    used, and `notes` (when given) gets a sentence saying so."""
    features = []
    for item in text.split(","):
        m = _SPEC_ITEM.match(item)
        item_mode = (m.group(2) if m else None) or mode
        value = (m.group(3) or m.group(4)) if m else None
        if not m or (value is None and item_mode != "ablate"):
            raise InputError(f"steering {text!r}: {item.strip()!r} is not IDX=STRENGTH, "
                             "IDX=MODE:STRENGTH or IDX=ablate (for example "
                             "123=4.5,9=ablate,40=clamp:5)", field="steer",
                             cli_hint="a bare IDX=STRENGTH is in --mode's mode")
        if item_mode == "ablate" and value is not None and notes is not None:
            notes.append(f"feature {m.group(1)}: ablate sets it to 0, so the strength {value} "
                         "given is not used")
        strength = 0.0 if item_mode == "ablate" else float(value)
        features.append(FeatureSteer(int(m.group(1)), strength, item_mode))
    return SteeringSpec(features, unit=unit)


def raw_strength(f: FeatureSteer, unit: str, max_acts: torch.Tensor | None) -> float:
    if f.mode == "ablate":
        return 0.0
    if unit == "raw":
        return float(f.strength)
    if max_acts is None:
        raise InputError("strengths in multiples of max activation need each feature's max "
                         "activation, and this SAE has no feature catalog; build one from your "
                         "own text, or give raw strengths", field="unit",
                         cli_hint="build one with 'steerdesk catalog build', or use --unit raw")
    peak = float(max_acts[f.index])
    if not peak > 0:
        raise InputError(f"feature {f.index} never activated when its catalog was built, so "
                         "'x max activation' means nothing for it; give it a raw strength",
                         field="unit", cli_hint="use --unit raw")
    return float(f.strength) * peak


def apply_clamp(sae: SAE, h: torch.Tensor, index: torch.Tensor, target: torch.Tensor,
                mask: torch.Tensor) -> torch.Tensor:
    """`h [rows, T, d]` with feature `index[c]` moved to `target[r, c]` in every row r where
    `mask[r, c]` is 1; the SAE's error term is kept. Shapes are fixed by `index`, so the
    compiled decode step (engine/compiled) runs the same code on its padded buffers."""
    current, state = sae.encode_subset_with_state(h, index)
    delta = (target.unsqueeze(1) - current) * mask.unsqueeze(1)
    rows = sae.decoder_rows(index, state)   # [n, d] or [B, T, n, d]
    if rows.dim() == 2:
        return h + delta @ rows
    return h + (delta.unsqueeze(-1) * rows).sum(-2)


class SteeringHook:
    """Tensors for one generation's rows, and the hook function that applies them and reads the
    watched features after the change. Built once per generation; all on the SAE's device."""

    def __init__(self, sae: SAE, variants: Sequence[SteeringSpec], *, positions: str = "all",
                 max_acts: torch.Tensor | None = None, watch: Iterable[int] = (),
                 top_k: int = 0):
        if positions not in POSITIONS:
            raise InputError(f"steering positions {positions!r}: choose all or generated")
        self.sae = sae
        self.positions = positions
        self.rows = 1 + len(variants)
        self.top_k = min(int(top_k), sae.d_sae)
        dev, dt = sae.device, sae.dtype
        adds: dict[tuple[int, int], float] = {}
        clamps: dict[tuple[int, int], float] = {}
        for r, spec in enumerate(variants, start=1):
            for f in spec.features:
                sae.check_index(f.index)
                s = raw_strength(f, spec.unit, max_acts)
                if f.mode == "add":
                    adds[(r, f.index)] = adds.get((r, f.index), 0.0) + s
                else:
                    clamps[(r, f.index)] = s  # the last clamp of a feature in a variant wins
        # Add: one [rows, d] matrix of summed decoder rows; exact zeros are dropped so that a
        # strength of 0 leaves the computation untouched.
        adds = {k: v for k, v in adds.items() if v != 0.0}
        self.add_features = sorted({i for (_, i) in adds})
        self.add_vec: torch.Tensor | None = None   # [rows, 1, d]: everything added, per row
        if self.add_features:
            col = {i: c for c, i in enumerate(self.add_features)}
            coef = torch.zeros(self.rows, len(self.add_features), dtype=dt, device=dev)
            for (r, i), s in adds.items():
                coef[r, col[i]] = s
            rows = sae.decoder_rows(torch.tensor(self.add_features, device=dev))
            # One vector per row, summed once here rather than at every step. Normalised SAEs
            # add their decoder rows mapped back to the model's scale.
            self.add_vec = (coef @ rows * sae.model_space_scale()).unsqueeze(1)  # [rows, 1, d]
        self._add_vectors(variants)
        # Clamp: targets and a mask over the union of clamped features.
        self.clamp_features = sorted({i for (_, i) in clamps})
        if self.clamp_features:
            col = {i: c for c, i in enumerate(self.clamp_features)}
            target = torch.zeros(self.rows, len(self.clamp_features), dtype=dt, device=dev)
            mask = torch.zeros_like(target)
            for (r, i), s in clamps.items():
                target[r, col[i]] = s
                mask[r, col[i]] = 1.0
            self.clamp_target, self.clamp_mask = target, mask
            self.clamp_index = torch.tensor(self.clamp_features, device=dev)
        self.watch = [sae.check_index(int(i)) for i in watch]
        self.watch_index = torch.tensor(self.watch, dtype=torch.long, device=dev)
        self.gates = None
        if any(getattr(v, "rules", None) for v in variants):
            from steerdesk.engine.rule_gates import RuleGates

            self.gates = RuleGates(sae, variants, max_acts)
        self.replaying = False   # a second pass over the prompt (its log-probs): rules stay
        self.in_prefill = True
        self.last_watch: torch.Tensor | None = None     # [rows, T, n_watch]
        self.last_top: tuple[torch.Tensor, torch.Tensor] | None = None  # values, indices [rows, T, k]

    def _add_vectors(self, variants: Sequence[SteeringSpec]) -> None:
        """Steering vectors join the add vector: row r gets the sum of s * typical * unit."""
        extra = torch.zeros(self.rows, self.sae.d_in, dtype=torch.float32)
        used = False
        for r, spec in enumerate(variants, start=1):
            for v in spec.vectors:
                v.vector.fit_notes(self.sae.d_in, "", "")   # raises on another width
                if v.strength != 0.0:
                    extra[r] += v.vector.added(v.strength)
                    used = True
        if not used:
            return
        extra = extra.to(device=self.sae.device, dtype=self.sae.dtype).unsqueeze(1)
        self.add_vec = extra if self.add_vec is None else self.add_vec + extra

    @property
    def steers(self) -> bool:
        return bool(self.add_vec is not None or self.clamp_features)

    @property
    def has_rules(self) -> bool:
        return self.gates is not None

    @property
    def reads(self) -> bool:
        return bool(self.watch) or self.top_k > 0

    @property
    def steers_now(self) -> bool:
        """Whether the pass now running is steered: every pass, or (positions="generated")
        every pass after the prompt's."""
        return self.steers and (self.positions == "all" or not self.in_prefill)

    def __call__(self, hidden: torch.Tensor) -> torch.Tensor | None:
        if hidden.shape[0] != self.rows:
            raise RuntimeError(f"steering hook expected {self.rows} rows, got {hidden.shape[0]}")
        sae = self.sae
        steer = self.steers_now
        h = hidden.to(sae.dtype)
        gates = self.gates
        # Rules read the activation as it arrives; they act from the position after a hold,
        # so never in the prompt's pass.
        if gates is not None and not self.replaying:
            gates.read(h, self.in_prefill)
        if steer:
            if self.add_vec is not None:
                h = h + self.add_vec
            if self.clamp_features:
                h = apply_clamp(sae, h, self.clamp_index, self.clamp_target, self.clamp_mask)
        ruled = gates is not None and gates.steers and not self.in_prefill
        if ruled:
            h = gates.apply(h)
        if self.reads:
            self._read(h, steer, ruled)
        return h.to(hidden.dtype) if steer or ruled else None

    def _read(self, h: torch.Tensor, steered: bool, ruled: bool = False) -> None:
        """Watched and top-k activations at the hook, after the change. A clamped feature reads
        its clamped value: the model carries on with decode(a with a_i = s) + error."""
        sae = self.sae
        pins = []   # (index, target [rows, n], mask [rows, n]): fixed clamps, then the rules'
        if steered and self.clamp_features:
            pins.append((self.clamp_features, self.clamp_index, self.clamp_target,
                         self.clamp_mask))
        if ruled and self.gates.last_clamp is not None:
            pins.append((self.gates.clamp_features, self.gates.clamp_index,
                         *self.gates.last_clamp))
        if self.top_k > 0:
            acts = sae.encode(h)
            for _, index, target, mask in pins:
                cur = acts.index_select(-1, index)
                m = mask.unsqueeze(1).expand_as(cur)
                new = torch.where(m > 0, target.unsqueeze(1).expand_as(cur), cur)
                acts = acts.index_copy(-1, index, new)
            top = torch.topk(acts, self.top_k, dim=-1)
            self.last_top = (top.values, top.indices)
            watched = acts.index_select(-1, self.watch_index) if self.watch else None
        else:
            watched = sae.encode_subset(h, self.watch_index) if self.watch else None
            for features, _, target, mask in (pins if watched is not None else ()):
                cols = {i: c for c, i in enumerate(features)}
                for w, i in enumerate(self.watch):
                    c = cols.get(i, -1)
                    if c >= 0:
                        m = mask[:, c].view(-1, 1)
                        watched[..., w] = torch.where(m > 0, target[:, c].view(-1, 1),
                                                      watched[..., w])
        self.last_watch = watched
