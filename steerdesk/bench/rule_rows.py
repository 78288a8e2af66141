"""`steerdesk bench` row (h): what rules cost. Mode "h" is (b)'s steered variant given as one
rule whose condition always holds (`when F>-1 then F=S`); mode "h-" is the same steering
without rules (`positions="generated"`, which such a rule equals token for token, see
tests/engine/test_rules.py). The row is the wall time of h over h- in the same repetition:
the price of reading the condition, moving the rule's state on and reporting its flags at
every step. Target: at most 1.05 on the CPU (docs/benchmarks.md).

Mode "h2" is the same steering by a rule on a classifier's score (one feature, weight 1, bias
0: the score is sigmoid of a max-pooled activation, never below 0.5, so `> 0.25` always holds).
A classifier pools the features' true values, so it takes the SAE's full read at every step,
where h's feature condition may be decided from the feature's own column (a TopK SAE on the
CPU, rule_gates.py): h2 is the price of a rule whose condition cannot be decided cheaply."""

from __future__ import annotations

import atexit
import shutil
import tempfile
from functools import lru_cache
from pathlib import Path
from typing import Any, Callable

RULE_MODES = ("h", "h2", "h-")
TARGET = 1.05


@lru_cache(maxsize=None)
def _classifier_file(feature: int) -> str:
    """A classifier on one feature whose score is sigmoid(max activation): at least 0.5."""
    from steerdesk.engine.catalog.contrast_sets import Classifier

    folder = tempfile.mkdtemp(prefix="steerdesk-bench-")
    atexit.register(shutil.rmtree, folder, ignore_errors=True)
    path = Path(folder) / "always.json"
    Classifier(["always", "never"], [feature], [1.0], [0.0], [1.0], 0.0).save(path)
    return str(path)


def rule_request(mode: str, prompt: str, feature: int, strength: float, kw: dict):
    from steerdesk.engine.generation import GenerationRequest
    from steerdesk.engine.rules import parse_rule
    from steerdesk.engine.steering import FeatureSteer, SteeringSpec

    if mode in ("h", "h2"):
        cond = (f"{feature}>-1" if mode == "h"
                else f'classifier "{_classifier_file(feature)}">0.25')
        rule = parse_rule(f"when {cond} then {feature}={strength!r}")
        return GenerationRequest(prompt, variants=[SteeringSpec(rules=[rule])], **kw)
    return GenerationRequest(prompt, variants=[SteeringSpec([FeatureSteer(feature, strength)])],
                             positions="generated", **kw)


def rule_rows(model: str, runs: dict[str, list], median: Callable, spread: Callable,
              timing: Callable) -> list[dict[str, Any]]:
    names = {"h": "h one rule active (baseline + 1 variant steered by a rule that always "
                  "holds)",
             "h2": "h2 (h) with the rule on a classifier's score (the SAE's full read at every "
                   "step)"}
    out = []
    for mode, name in names.items():
        ratio = [h.seconds / g.seconds for h, g in zip(runs[mode], runs["h-"])]
        plain = [h.seconds / p.seconds for h, p in zip(runs[mode], runs["plain"])]
        value = median(ratio)
        out.append({"name": name, "model": model,
                    "measure": "wall time / the same steering without rules; also / plain",
                    "ratio_to_plain": round(median(plain), 3), "ratio_range": spread(plain),
                    "ratio_to_no_rules": round(value, 3), "ratio_to_no_rules_range": spread(ratio),
                    **timing(mode), "target": TARGET, "target_kind": "at most",
                    "meets_target": bool(value <= TARGET)})
    return out
