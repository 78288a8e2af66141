"""What the catalog says about one feature: its snippets of evidence and everything else
`Catalog.feature(i)` reads (see docs/catalog.md)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass
class Snippet:
    tokens: list[str]
    values: list[float]
    peak: int            # position of the activating token within tokens
    max_value: float
    token_ids: list[int] = field(default_factory=list)
    document: dict[str, Any] | None = None   # {"source": ..., "meta": {...}} when known


@dataclass
class FeatureRecord:
    index: int
    label: str
    label_source: str
    max_activation: float | None
    density: float | None
    snippets: list[Snippet]
    histogram: tuple[list[float], list[int]] | None   # (bin edges, counts), len(edges) = len(counts) + 1
    promoted: list[tuple[str, float]]
    suppressed: list[tuple[str, float]]
    labels_by_source: dict[str, str] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {"index": self.index, "label": self.label, "label_source": self.label_source,
                "labels_by_source": self.labels_by_source,
                "max_activation": self.max_activation, "density": self.density,
                "histogram": ({"edges": self.histogram[0], "counts": self.histogram[1]}
                              if self.histogram else None),
                "promoted": [[t, v] for t, v in self.promoted],
                "suppressed": [[t, v] for t, v in self.suppressed],
                "snippets": [{"tokens": s.tokens, "values": s.values, "peak": s.peak,
                              "max_value": s.max_value, "token_ids": s.token_ids,
                              "document": s.document} for s in self.snippets]}
