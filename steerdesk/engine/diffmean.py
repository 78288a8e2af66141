"""Steering vectors from examples: the difference of mean activations (DiffMean).

Two lists of texts, A (the concept) and B (not the concept), go through the model unsteered;
the activation at the SAE's hook is averaged over all tokens of A and over all tokens of B,
and the difference is the direction. AxBench found such vectors the best concept detectors of
the simple methods, and CAA vectors (repeng, steering-vectors) are made the same way.

A strength s adds s * typical * unit(direction) to the activation, where `typical` is the
root-mean-square of the projections <h, unit(direction)> over every counted token of both sets:
1.0 is "one typical activation along the concept", whatever the model's scale.

A vector is saved on its own as JSON ({"format": "steerdesk-vector", ...}) or inside a preset
(engine/presets.py, its "vectors" list); both go through `vector_from_json`."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from steerdesk.engine import atomic
from steerdesk.engine.errors import InputError
from steerdesk.engine.reading import hook_activations
from steerdesk.engine.userfiles import read_json_value

FORMAT = "steerdesk-vector"


@dataclass(frozen=True)
class SteeringVector:
    name: str
    direction: tuple[float, ...]     # the raw mean difference, in the model's space [d_model]
    typical: float                   # RMS of <h, unit(direction)> over both sets' tokens
    hook: str = ""                   # where it was read (the SAE's hook)
    model: str = ""                  # the model it was read from, by name
    n_tokens: tuple[int, int] = (0, 0)   # tokens counted in A and in B

    @property
    def d_model(self) -> int:
        return len(self.direction)

    def unit(self) -> torch.Tensor:
        d = torch.tensor(self.direction, dtype=torch.float32)
        return d / d.norm()

    def added(self, strength: float) -> torch.Tensor:
        """What strength `strength` adds to every steered position: s * typical * unit [d]."""
        return float(strength) * self.typical * self.unit()

    def to_json(self) -> dict[str, Any]:
        return {"name": self.name, "direction": list(self.direction), "typical": self.typical,
                "hook": self.hook, "model": self.model, "d_model": self.d_model,
                "n_tokens": list(self.n_tokens)}

    def fit_notes(self, d_model: int, hook: str, model: str, where: str = "") -> list[str]:
        """Raise when the vector cannot steer this model (another width); sentences for what
        only changes its meaning (another hook or model of the same width)."""
        at = where or f"steering vector {self.name!r}"
        if self.d_model != d_model:
            raise InputError(f"{at}: it has d_model {self.d_model}, and the activation at the "
                             f"SAE's hook is {d_model} wide; was it built for another model?",
                             field="vector")
        notes = []
        if self.hook and hook and self.hook != hook:
            notes.append(f"{at} was built at {self.hook}; it steers at {hook}")
        if self.model and model and self.model != model:
            notes.append(f"{at} was built with the model {self.model}; this is {model}")
        return notes


def _finite(value, at: str) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise InputError(f"{at} must be a finite number, not {value!r:.40}")
    return float(value)


def vector_from_json(data: Any, where: str) -> SteeringVector:
    """A vector from its JSON object; every problem is one InputError naming `where` and the
    field ("file.json: vectors[0].d_model ...")."""
    if not isinstance(data, dict):
        raise InputError(f"{where} must be an object with name, direction, typical and d_model")
    name = data.get("name")
    if not isinstance(name, str) or not name.strip():
        raise InputError(f"{where}.name is missing or empty")
    raw = data.get("direction")
    if not isinstance(raw, list) or not raw:
        raise InputError(f"{where}.direction must be a non-empty list of numbers")
    direction = tuple(_finite(x, f"{where}.direction[{n}]") for n, x in enumerate(raw))
    if not any(direction):
        raise InputError(f"{where}.direction is all zeros: it points nowhere")
    d_model = data.get("d_model")
    if isinstance(d_model, bool) or not isinstance(d_model, int) or d_model != len(direction):
        raise InputError(f"{where}.d_model is {d_model!r}, and direction has {len(direction)} "
                         "numbers; they must agree")
    typical = _finite(data.get("typical"), f"{where}.typical")
    if not typical > 0:
        raise InputError(f"{where}.typical must be above 0, not {typical}")
    n = data.get("n_tokens", [0, 0])
    if not (isinstance(n, list) and len(n) == 2 and all(
            isinstance(x, int) and not isinstance(x, bool) and x >= 0 for x in n)):
        raise InputError(f"{where}.n_tokens must be two whole numbers >= 0, not {n!r:.40}")
    hook, model = data.get("hook", ""), data.get("model", "")
    if not isinstance(hook, str) or not isinstance(model, str):
        raise InputError(f"{where}.hook and .model must be text")
    return SteeringVector(name.strip(), direction, typical, hook, model, (n[0], n[1]))


def save_vector(vector: SteeringVector, path: str | Path) -> Path:
    """A standalone vector file, written atomically."""
    import json

    path = Path(path).expanduser()
    atomic.write_text(path, json.dumps({"format": FORMAT, "version": 1, **vector.to_json()},
                                       indent=1) + "\n")
    return path


def load_vector(path: str | Path) -> SteeringVector:
    p = Path(path).expanduser()
    data = read_json_value(p, what="steering vector file")
    if not isinstance(data, dict) or data.get("format") != FORMAT:
        raise InputError(f"{p}: not a steerdesk steering vector (its \"format\" is not "
                         f"{FORMAT!r}); make one with steerdesk vectors build")
    return vector_from_json(data, str(p))


def _token_sum(session, texts: Sequence[str], what: str) -> tuple[torch.Tensor, list[torch.Tensor]]:
    """(sum over every counted token of the hook activation [d], the counted rows per text)."""
    kept = [h[keep] for _ids, h, keep in hook_activations(session, texts)]
    kept = [k for k in kept if k.shape[0]]
    if not kept:
        raise InputError(f"set {what} has no text with tokens other than special ones (BOS/EOS); "
                         "give it some text", field="texts")
    return torch.cat(kept).sum(0), kept


def build_vector(session, texts_a: Sequence[str], texts_b: Sequence[str], *,
                 name: str = "vector") -> SteeringVector:
    """The DiffMean vector of `texts_a` (the concept) against `texts_b`.

    Each text is run through the model unsteered and read at the SAE's hook (the reading path
    of engine/reading.py). Every token of every text counts once, except the tokenizer's
    special tokens (the BOS it adds at the start, EOS, pad), which are the same in both sets and
    carry no concept. direction = mean of A's tokens - mean of B's tokens; typical = the RMS of
    each counted token's projection on unit(direction), over both sets."""
    texts_a = [t for t in texts_a if t.strip()]
    texts_b = [t for t in texts_b if t.strip()]
    if not texts_a or not texts_b:
        raise InputError("a steering vector needs at least one non-empty text in each set "
                         "(A: the concept, B: not)", field="texts")
    if not name.strip():
        raise InputError("the steering vector needs a name", field="name")
    sum_a, rows_a = _token_sum(session, texts_a, "A")
    sum_b, rows_b = _token_sum(session, texts_b, "B")
    n_a, n_b = sum(r.shape[0] for r in rows_a), sum(r.shape[0] for r in rows_b)
    direction = sum_a / n_a - sum_b / n_b
    norm = float(direction.norm())
    if not norm > 0 or not math.isfinite(norm):
        raise InputError("the two sets give the same mean activation, so there is no "
                         "direction between them; give texts that differ in the concept",
                         field="texts")
    unit = direction / norm
    proj = torch.cat([*rows_a, *rows_b]) @ unit
    typical = float(proj.pow(2).mean().sqrt())
    return SteeringVector(name.strip(), tuple(direction.tolist()), typical, session.hook.name,
                          session.lm.name, (n_a, n_b))
