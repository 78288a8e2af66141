"""Finding features by contrasting two sets of texts, which doubles as a small classifier that
can be saved and applied to other texts."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import torch

from steerdesk.engine.catalog.store import atomic_write_json
from steerdesk.engine.errors import InputError
from steerdesk.engine.reading import check_pool, text_activations
from steerdesk.engine.reading import pool as pool_tokens
from steerdesk.engine.userfiles import read_json_value


@dataclass
class ContrastFeature:
    index: int
    score: float         # standardised mean difference, > 0: more active on set A
    mean_a: float
    mean_b: float
    auroc: float         # P(value on an A text > value on a B text), ties count half
    label: str = ""


@dataclass
class Classifier:
    """Logistic regression on a few standardised feature activations (pooled per text)."""
    names: list[str]
    features: list[int]
    weights: list[float]
    center: list[float]
    scale: list[float]
    bias: float
    pool: str = "max"
    d_sae: int = 0
    sae: str | None = None
    hook: str | None = None
    accuracy: float | None = None
    n: list[int] = field(default_factory=list)

    FORMAT = "steerdesk-classifier"

    def to_dict(self) -> dict[str, Any]:
        return {"format": self.FORMAT, "version": 1, **asdict(self)}

    def save(self, path: str | Path) -> None:
        atomic_write_json(Path(path), self.to_dict(), indent=1)

    @classmethod
    def load(cls, path: str | Path) -> Classifier:
        p = Path(path).expanduser()
        d = read_json_value(p, what="classifier file")
        if not isinstance(d, dict) or d.get("format") != cls.FORMAT:
            raise InputError(f"{p}: not a steerdesk classifier (format is not {cls.FORMAT!r})")
        try:
            c = cls(names=[str(x) for x in d["names"]],
                    features=[_index(i) for i in d["features"]],
                    weights=[_finite(w) for w in d["weights"]],
                    center=[_finite(x) for x in d["center"]],
                    scale=[_finite(x) for x in d["scale"]], bias=_finite(d["bias"]),
                    pool=str(d.get("pool", "max")), d_sae=_index(d.get("d_sae", 0)),
                    sae=d.get("sae") if isinstance(d.get("sae"), str) else None,
                    hook=d.get("hook") if isinstance(d.get("hook"), str) else None,
                    accuracy=_finite(d["accuracy"]) if d.get("accuracy") is not None else None,
                    n=[_index(x) for x in d.get("n", [])])
        except KeyError as exc:
            raise InputError(f"{p}: the classifier file has no field {exc}") from None
        except (TypeError, ValueError) as exc:
            raise InputError(f"{p}: the classifier file has a bad value ({exc})") from None
        if not (len(c.features) == len(c.weights) == len(c.center) == len(c.scale)) or len(c.names) != 2:
            raise InputError(f"{p}: features, weights, center and scale must have the same length, "
                             "and names two entries")
        if any(not s > 0 for s in c.scale):
            raise InputError(f"{p}: every scale must be above 0 (the features' spread)")
        if c.d_sae and any(i >= c.d_sae for i in c.features):
            raise InputError(f"{p}: a feature index is beyond the classifier's d_sae ({c.d_sae})")
        return c

    def score_vectors(self, pooled: torch.Tensor) -> torch.Tensor:
        """P(set A) for pooled activation vectors [n, d_sae]."""
        idx = torch.tensor(self.features, dtype=torch.long)
        z = (pooled[:, idx] - torch.tensor(self.center)) / torch.tensor(self.scale)
        return torch.sigmoid(z @ torch.tensor(self.weights) + self.bias)

    def score_values(self, values: Sequence[float]) -> float:
        """P(set A) from the pooled values of the classifier's own features, in `features`
        order: the same sum as score_vectors, for a stream that watches only these."""
        z = sum(w * (v - c) / s for w, v, c, s in zip(self.weights, values, self.center,
                                                       self.scale))
        return 1.0 / (1.0 + math.exp(-max(-60.0, min(60.0, z + self.bias))))

    def side(self, p_a: float) -> str:
        return self.names[0] if p_a >= 0.5 else self.names[1]

    def apply(self, session, texts: Sequence[str]) -> list[dict[str, Any]]:
        """For each text: {"text", "label" (names[0] or names[1]), "p_a"}."""
        if self.d_sae and self.d_sae != session.sae.d_sae:
            raise InputError(f"this classifier was made for an SAE with {self.d_sae} features; "
                             f"the loaded SAE has {session.sae.d_sae}")
        pooled = _pooled(session, texts, self.pool)
        p = self.score_vectors(pooled).tolist()
        return [{"text": t, "label": self.side(pa), "p_a": pa}
                for t, pa in zip(texts, p)]


@dataclass
class ContrastResult:
    features: list[ContrastFeature]
    classifier: Classifier
    n_a: int
    n_b: int

    def pairs(self) -> list[tuple[int, float]]:
        return [(f.index, f.score) for f in self.features]

    def to_dict(self) -> dict[str, Any]:
        return {"n_a": self.n_a, "n_b": self.n_b, "features": [asdict(f) for f in self.features],
                "classifier": self.classifier.to_dict()}


def _pooled(session, texts: Sequence[str], pool: str) -> torch.Tensor:
    rows = []
    for _ids, acts, keep in text_activations(session, list(texts)):
        p = pool_tokens(acts, keep, pool)
        rows.append(torch.zeros(acts.shape[-1]) if p is None else p)
    return torch.stack(rows)


def _auroc(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """Per column: P(a > b) + P(a == b) / 2. a [na, m], b [nb, m]."""
    gt = (a.unsqueeze(1) > b.unsqueeze(0)).float().mean(dim=(0, 1))
    eq = (a.unsqueeze(1) == b.unsqueeze(0)).float().mean(dim=(0, 1))
    return gt + 0.5 * eq


def _fit_logistic(z: torch.Tensor, y: torch.Tensor, l2: float = 1e-2, steps: int = 300
                  ) -> tuple[torch.Tensor, float]:
    w = torch.zeros(z.shape[1], requires_grad=True)
    b = torch.zeros((), requires_grad=True)
    opt = torch.optim.Adam([w, b], lr=0.1)
    with torch.enable_grad():
        for _ in range(steps):
            opt.zero_grad()
            loss = torch.nn.functional.binary_cross_entropy_with_logits(z @ w + b, y) + l2 * (w * w).sum()
            loss.backward()
            opt.step()
    return w.detach(), float(b.detach())


def _finite(value) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise ValueError(f"{value!r:.30} is not a finite number")
    return float(value)


def _index(value) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise ValueError(f"{value!r:.30} is not a whole number >= 0")
    return value


def contrast(session, texts_a: Sequence[str], texts_b: Sequence[str], top: int = 20,
             pool: str = "max", names: tuple[str, str] = ("A", "B"), classifier_features: int = 8,
             catalog=None) -> ContrastResult:
    """The features whose activation (pooled per text by max or mean, special tokens left out)
    best separates texts_a from texts_b, ranked by |score|, where score is the difference of the
    two means over their pooled standard deviation (with a floor of 10% of the feature's largest
    value, so that a feature that is always 0 on one side cannot score infinity). Also fits a
    small classifier on the best `classifier_features` features."""
    check_pool(pool, "pool")
    texts_a = [t for t in texts_a if t.strip()]
    texts_b = [t for t in texts_b if t.strip()]
    if len(texts_a) < 1 or len(texts_b) < 1:
        raise InputError("contrast needs at least one non-empty text in each set")
    xa = _pooled(session, texts_a, pool)
    xb = _pooled(session, texts_b, pool)
    mu_a, mu_b = xa.mean(0), xb.mean(0)
    var_a = xa.var(0, unbiased=False)
    var_b = xb.var(0, unbiased=False)
    big = torch.maximum(xa.abs().max(0).values, xb.abs().max(0).values)
    denom = torch.sqrt(0.5 * (var_a + var_b) + (0.1 * big) ** 2 + 1e-12)
    score = torch.where(big > 0, (mu_a - mu_b) / denom, torch.zeros_like(denom))
    k = min(max(top, classifier_features), score.numel())
    order = score.abs().topk(k).indices
    au = _auroc(xa[:, order], xb[:, order])
    cat = catalog if catalog is not None else getattr(session, "catalog", None)
    feats = [ContrastFeature(int(i), float(score[i]), float(mu_a[i]), float(mu_b[i]),
                             float(au[j]), cat.label(int(i)) if cat is not None else "")
             for j, i in enumerate(order.tolist())]
    chosen = order[: min(classifier_features, k)]
    center = (0.5 * (mu_a + mu_b))[chosen]
    scale = denom[chosen]
    x = torch.cat([xa, xb])[:, chosen]
    z = (x - center) / scale
    y = torch.cat([torch.ones(len(texts_a)), torch.zeros(len(texts_b))])
    w, b = _fit_logistic(z, y)
    acc = float(((torch.sigmoid(z @ w + b) >= 0.5).float() == y).float().mean())
    clf = Classifier(names=list(names), features=chosen.tolist(), weights=w.tolist(),
                     center=center.tolist(), scale=scale.tolist(), bias=b, pool=pool,
                     d_sae=session.sae.d_sae,
                     sae=str(session.sae_path) if session.sae_path else None,
                     hook=session.hook.name, accuracy=acc, n=[len(texts_a), len(texts_b)])
    return ContrastResult(feats[:top], clf, len(texts_a), len(texts_b))

