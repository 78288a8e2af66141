"""Labels, numbers and search over an SAE's features, with or without a catalog.

Without a catalog every feature is still listed and found by its number; it has no label
(`label(i)` is None), and display code names it by its number."""

from __future__ import annotations

from typing import Any

import numpy as np

from steerdesk.ui import wording

SEARCH_LIMIT = 2000   # more than anyone scrolls through; keeps ranking cheap at 100k+


class FeatureSource:
    def __init__(self, d_sae: int, catalog: Any = None):
        self.d_sae = int(d_sae)
        self.catalog = catalog
        self._labels: list[str] | None = None
        self.max_acts: np.ndarray | None = None
        self.densities: np.ndarray | None = None
        if catalog is not None:
            self._labels = _try(lambda: [str(x or "") for x in catalog.labels()])
            self.max_acts = _try(lambda: _array(catalog.max_activations()))
            self.densities = _try(lambda: _array(catalog.densities()))
        self._lower: list[str] | None = None

    @classmethod
    def for_session(cls, session) -> FeatureSource:
        return cls(session.sae.d_sae, session.catalog)

    @property
    def has_catalog(self) -> bool:
        return self.catalog is not None

    def label(self, i: int) -> str | None:
        """The feature's label, or None when it has none."""
        if self._labels is not None and 0 <= i < len(self._labels) and self._labels[i]:
            return wording.plain_label(self._labels[i])
        return None

    def max_act(self, i: int) -> float | None:
        if self.max_acts is None or not 0 <= i < len(self.max_acts):
            return None
        return float(self.max_acts[i])

    def density(self, i: int) -> float | None:
        if self.densities is None or not 0 <= i < len(self.densities):
            return None
        return float(self.densities[i])

    def card(self, i: int):
        """The catalog's full record for feature i, or None."""
        if self.catalog is None or not hasattr(self.catalog, "feature"):
            return None
        return _try(lambda: self.catalog.feature(i))

    def set_user_label(self, i: int, text: str) -> None:
        if self.catalog is not None and hasattr(self.catalog, "set_user_label"):
            self.catalog.set_user_label(i, text)
        if self._labels is None:
            self._labels = [""] * self.d_sae
        self._labels[i] = text
        self._lower = None

    def warm_up(self) -> None:
        """Build the catalog's word index now (on the worker), not on the first keystroke."""
        if self.catalog is not None:
            self._catalog_search("warm up")   # two words: builds every lazy part

    def _catalog_search(self, q: str) -> np.ndarray | None:
        """The catalog's ranked search (exact, substring, all words, then typo-tolerant)."""
        if self.catalog is None:
            return None
        try:
            from steerdesk.engine.catalog import search_words
        except ImportError:
            return None
        found = _try(lambda: search_words(self.catalog, q, limit=SEARCH_LIMIT))
        if found is None:
            return None
        return np.array([i for i, _ in found], dtype=np.int64)

    def search(self, query: str) -> np.ndarray:
        """Feature indices matching `query`: a number finds that feature (and those whose
        number starts with it); words search the labels, best match first."""
        q = query.strip().lower().lstrip("#")
        if not q:
            return np.arange(self.d_sae)
        if q.isdigit():
            exact = int(q)
            hits = [exact] if exact < self.d_sae else []
            # Prefix matches by arithmetic, not by formatting 100k numbers.
            scale = 10
            while exact * scale < self.d_sae and exact > 0:
                lo, hi = exact * scale, min((exact + 1) * scale, self.d_sae)
                hits.extend(range(lo, hi))
                scale *= 10
            return np.array(sorted(hits), dtype=np.int64)
        if self._labels is None:
            return np.zeros(0, dtype=np.int64)
        ranked = self._catalog_search(q)
        if ranked is not None:
            return ranked
        if self._lower is None:
            self._lower = [s.lower() for s in self._labels]
        words = q.split()
        found = [i for i, s in enumerate(self._lower) if words[0] in s]
        for w in words[1:]:
            found = [i for i in found if w in self._lower[i]]
        return np.array(found, dtype=np.int64)


def _array(values) -> np.ndarray | None:
    if values is None:
        return None
    if hasattr(values, "detach"):
        values = values.detach().float().cpu().numpy()
    return np.asarray(values, dtype=np.float64)


def _try(fn):
    """Catalog parts are optional: a missing or broken one leaves that column empty."""
    try:
        return fn()
    except Exception:  # noqa: BLE001
        return None
