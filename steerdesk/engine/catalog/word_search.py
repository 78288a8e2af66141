"""Finding features by the words of their labels: exact, then substring, then all words, then
fuzzy matches (case-insensitive), over an index built once per set of labels."""

from __future__ import annotations

import re
import weakref
from collections.abc import Sequence

import numpy as np

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


_FIXED: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()


def word_index(catalog_or_labels) -> WordIndex:
    """An index of a list of labels, or of a catalog's labels: a `Catalog` keeps it until its
    labels change; any other object with `labels()` is indexed once."""
    if isinstance(catalog_or_labels, (list, tuple)):
        return WordIndex(catalog_or_labels)
    cat = catalog_or_labels
    if hasattr(cat, "derived"):
        return cat.derived("word_index", lambda: WordIndex(cat.labels()))
    if cat not in _FIXED:
        _FIXED[cat] = WordIndex(cat.labels())
    return _FIXED[cat]


def search_words(catalog, query: str, limit: int = 50) -> list[tuple[int, float]]:
    """Features whose label matches `query`, best first, as (index, score). Case-insensitive.
    Scores: 4 exact label; 2-3 the query is a substring (more when it starts a word and covers
    more of the label); 1-2 all the query's words appear; 0-1 fuzzy (shared trigrams).
    `catalog` is a Catalog or a list of labels."""
    return word_index(catalog).search(query, limit)

