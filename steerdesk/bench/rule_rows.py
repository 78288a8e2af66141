"""`steerdesk bench` row (h): what rules cost. Mode "h" is (b)'s steered variant given as one
rule whose condition always holds (`when F>-1 then F=S`); mode "h-" is the same steering
without rules (`positions="generated"`, which such a rule equals token for token, see
tests/engine/test_rules.py). The row is the wall time of h over h- in the same repetition:
the price of reading the condition, moving the rule's state on and reporting its flags at
every step. Target: at most 1.05 on the CPU (docs/benchmarks.md)."""

from __future__ import annotations

from typing import Any, Callable

RULE_MODES = ("h", "h-")
TARGET = 1.05


def rule_request(mode: str, prompt: str, feature: int, strength: float, kw: dict):
    from steerdesk.engine.generation import GenerationRequest
    from steerdesk.engine.rules import parse_rule
    from steerdesk.engine.steering import FeatureSteer, SteeringSpec

    if mode == "h":
        rule = parse_rule(f"when {feature}>-1 then {feature}={strength!r}")
        return GenerationRequest(prompt, variants=[SteeringSpec(rules=[rule])], **kw)
    return GenerationRequest(prompt, variants=[SteeringSpec([FeatureSteer(feature, strength)])],
                             positions="generated", **kw)


def rule_rows(model: str, runs: dict[str, list], median: Callable, spread: Callable,
              timing: Callable) -> list[dict[str, Any]]:
    ratio = [h.seconds / g.seconds for h, g in zip(runs["h"], runs["h-"])]
    plain = [h.seconds / p.seconds for h, p in zip(runs["h"], runs["plain"])]
    value = median(ratio)
    return [{"name": "h one rule active (baseline + 1 variant steered by a rule that always "
                     "holds)", "model": model,
             "measure": "wall time / the same steering without rules; also / plain",
             "ratio_to_plain": round(median(plain), 3), "ratio_range": spread(plain),
             "ratio_to_no_rules": round(value, 3), "ratio_to_no_rules_range": spread(ratio),
             **timing("h"), "target": TARGET, "target_kind": "at most",
             "meets_target": bool(value <= TARGET)}]
