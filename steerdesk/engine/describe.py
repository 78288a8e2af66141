"""Steering in words, one way for every front end: the CLI's row names, the app's column
headers and tooltips, the exports."""

from __future__ import annotations

from typing import TYPE_CHECKING, Callable

if TYPE_CHECKING:   # steering.py uses this module: no import back at run time
    from steerdesk.engine.steering import FeatureSteer, SteeringSpec

LabelOf = Callable[[int], "str | None"]


def unit_suffix(unit: str) -> str:
    return "x max" if unit == "max" else " raw"


def describe_feature(f: FeatureSteer, unit: str, label_of: LabelOf | None = None) -> str:
    """'add #12 German text +1.50x max', 'clamp #7 +4.00 raw', 'ablate #9 years'."""
    label = f.label or (label_of(f.index) if label_of else None) or ""
    name = f"#{f.index} {label}".rstrip()
    if f.mode == "ablate":
        return f"ablate {name}"
    return f"{f.mode} {name} {f.strength:+.2f}{unit_suffix(unit)}"


def describe_vector(name: str, strength: float) -> str:
    """'vector formal +1.50x typical'."""
    return f"vector {name} {strength:+.2f}x typical"


def describe_spec(spec: SteeringSpec, label_of: LabelOf | None = None, *,
                  empty: str = "no steering") -> str:
    """Every enabled feature and steering vector of a variant, then its rules, joined with
    '; '."""
    parts = [describe_feature(f, spec.unit, label_of) for f in spec.features]
    parts += [describe_vector(v.vector.name, v.strength) for v in getattr(spec, "vectors", ())]
    parts += [rule.describe(label_of) for rule in getattr(spec, "rules", None) or []]
    return "; ".join(parts) or empty
