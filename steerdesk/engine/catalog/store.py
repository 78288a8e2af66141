"""The catalog on disk: reading it lazily, writing it atomically, merging label sources.

Layout of a catalog folder (see docs/catalog.md for the full description):

    catalog.json              manifest: format, version, d_sae, how it was built
    labels.json               labels by source: automatic (list), imported and hand (dicts)
    user_labels.json          labels the user typed in the app; written by set_user_label only
    stats.safetensors         bulk per-feature arrays ([d_sae] and [d_sae, n])
    vocab.json                token id -> the text of that token alone (decoded once at build)
    documents.json            the source and metadata of each document a snippet comes from
    snippets/*.npy            packed snippets, memory-mapped; one feature's slice read on demand

Opening a catalog reads only catalog.json and the two label files. max_activations() and
densities() read one tensor each from stats.safetensors; feature(i) reads row i of the other
tensors and only feature i's slice of the snippet arrays.
"""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any, Callable, TypeVar

import numpy as np
import torch

from steerdesk.engine import atomic
from steerdesk.engine.catalog.records import FeatureRecord, Snippet
from steerdesk.engine.catalog.validate import (
    MAX_FEATURES,
    check_snippet_arrays,
    check_stat_shapes,
)
from steerdesk.engine.config_fields import want_int
from steerdesk.engine.errors import InputError
from steerdesk.engine.userfiles import check_file, one_line, read_json_value

FORMAT = "steerdesk-catalog"
VERSION = 1
MANIFEST = "catalog.json"
LABELS = "labels.json"
USER_LABELS = "user_labels.json"
STATS = "stats.safetensors"
VOCAB = "vocab.json"
DOCUMENTS = "documents.json"
SNIPPETS = "snippets"
SNIPPET_ARRAYS = ("offsets", "token_start", "peak", "max", "doc", "tokens", "values")

T = TypeVar("T")

# Precedence of label sources, strongest first.
SOURCES = ("user", "hand", "imported", "automatic")


# ---- atomic writes (the names build and search use) ---------------------------------------
atomic_write_bytes = atomic.write_bytes
atomic_write_json = atomic.write_json
atomic_save_npy = atomic.save_npy


def atomic_save_safetensors(path: Path, tensors: dict[str, torch.Tensor]) -> None:
    atomic.save_safetensors(path, tensors, metadata={"format": FORMAT})


def _read_json(path: Path, what: str) -> Any:
    return read_json_value(path, what=f"catalog {what}")


def _labels_dict(raw: Any, d_sae: int, path: Path, key: str) -> dict[int, str]:
    if raw is None:
        return {}
    if not isinstance(raw, dict):
        raise InputError(f"{path}: {key!r} must be an object of index -> label")
    out: dict[int, str] = {}
    for k, v in raw.items():
        try:
            i = int(k)
        except (TypeError, ValueError):
            raise InputError(f"{path}: {key!r} has a key {k!r} that is not a feature index") from None
        if 0 <= i < d_sae and isinstance(v, str) and v:
            out[i] = v
    return out


# ---- the catalog ------------------------------------------------------------------------
class Catalog:
    """A feature catalog folder. Cheap to open; evidence is read one feature at a time."""

    def __init__(self, path: Path | str):
        self.path = Path(path)
        self._lock = threading.RLock()
        manifest_path = self.path / MANIFEST
        if not manifest_path.exists():
            raise InputError(f"{self.path}: not a feature catalog (it has no {MANIFEST})")
        m = _read_json(manifest_path, "manifest")
        if not isinstance(m, dict) or m.get("format") != FORMAT:
            raise InputError(f"{manifest_path}: not a steerdesk catalog manifest "
                             f"(format is not {FORMAT!r})")
        version = want_int(m, "version", str(manifest_path), default=1, lo=0)
        if version > VERSION:
            raise InputError(f"{manifest_path}: catalog format version {version} is newer "
                             f"than this steerdesk reads ({VERSION}); update steerdesk")
        self.manifest: dict[str, Any] = m
        self.d_sae: int = want_int(m, "d_sae", str(manifest_path), lo=1, hi=MAX_FEATURES)
        self._sources: dict[str, dict[int, str]] = {}
        self._automatic: list[str] = []
        self._merged: list[str] | None = None
        self._merged_source: list[str] | None = None
        self._max: torch.Tensor | None = None
        self._density: torch.Tensor | None = None
        self._stats_keys: set[str] | None = None
        self._vocab: list[str] | None = None
        self._documents: list[dict] | None = None
        self._snip: dict[str, np.ndarray] | None = None
        self._derived: dict[str, tuple[int, Any]] = {}   # see derived()
        self._labels_version = 0
        self._load_labels()

    def __repr__(self) -> str:
        return f"Catalog({str(self.path)!r}, d_sae={self.d_sae})"

    # ---- labels ---------------------------------------------------------------------
    def _load_labels(self) -> None:
        path = self.path / LABELS
        data = _read_json(path, "labels") if path.exists() else {}
        if not isinstance(data, dict):
            raise InputError(f"{path}: expected a JSON object")
        auto = data.get("automatic") or []
        if isinstance(auto, dict):
            auto_d = _labels_dict(auto, self.d_sae, path, "automatic")
            auto = [auto_d.get(i, "") for i in range(self.d_sae)]
        if not isinstance(auto, list):
            raise InputError(f"{path}: 'automatic' must be a list of labels")
        auto = [a if isinstance(a, str) else "" for a in auto[: self.d_sae]]
        auto += [""] * (self.d_sae - len(auto))
        self._automatic = auto
        self._sources = {"imported": _labels_dict(data.get("imported"), self.d_sae, path, "imported"),
                         "hand": _labels_dict(data.get("hand"), self.d_sae, path, "hand")}
        upath = self.path / USER_LABELS
        user = _read_json(upath, "user labels") if upath.exists() else {}
        self._sources["user"] = _labels_dict(user, self.d_sae, upath, "user labels")
        self._merged = None
        self._labels_version += 1

    def derived(self, key: str, build: Callable[[], T]) -> T:
        """A value computed from the labels (a search index, their embeddings), kept until the
        labels change. `build` runs outside the lock: it can take a while."""
        with self._lock:
            version = self._labels_version
            hit = self._derived.get(key)
        if hit is not None and hit[0] == version:
            return hit[1]
        value = build()
        with self._lock:
            self._derived[key] = (version, value)
        return value

    def _merge(self) -> None:
        labels = list(self._automatic)
        source = ["automatic" if a else "" for a in labels]
        for name in ("imported", "hand", "user"):          # weakest first; later wins
            for i, text in self._sources.get(name, {}).items():
                labels[i] = text
                source[i] = name
        self._merged, self._merged_source = labels, source

    def labels(self) -> list[str]:
        """Every feature's label (user > hand > imported > automatic), "" where none."""
        with self._lock:
            if self._merged is None:
                self._merge()
            return self._merged  # type: ignore[return-value]

    def _check(self, i: int) -> int:
        if isinstance(i, bool) or not isinstance(i, (int, np.integer)) or not 0 <= int(i) < self.d_sae:
            raise InputError(f"feature index {i} is out of range: this catalog has {self.d_sae} "
                             f"features (0..{self.d_sae - 1})")
        return int(i)

    def label(self, i: int) -> str:
        return self.labels()[self._check(i)]

    def label_source(self, i: int) -> str:
        i = self._check(i)
        self.labels()
        return self._merged_source[i]  # type: ignore[index]

    def labels_by_source(self, i: int) -> dict[str, str]:
        i = self._check(i)
        out = {name: self._sources[name][i] for name in ("user", "hand", "imported")
               if i in self._sources.get(name, {})}
        if self._automatic[i]:
            out["automatic"] = self._automatic[i]
        return out

    def source_labels(self, source: str) -> dict[int, str]:
        """The labels of one source alone (a copy)."""
        if source == "automatic":
            return {i: t for i, t in enumerate(self._automatic) if t}
        if source not in SOURCES:
            raise InputError(f"label source {source!r}: choose one of {', '.join(SOURCES)}")
        return dict(self._sources.get(source, {}))

    def set_user_label(self, i: int, text: str) -> None:
        """Save the user's label for feature i at once (atomically). An empty text removes the
        user's label, so the next source shows again. Imports never touch these."""
        i = self._check(i)
        text = (text or "").strip()
        with self._lock:
            upath = self.path / USER_LABELS
            current = _read_json(upath, "user labels") if upath.is_file() else {}
            if not isinstance(current, dict):
                current = {}
            if text:
                current[str(i)] = text
            else:
                current.pop(str(i), None)
            atomic_write_json(upath, dict(sorted(current.items(), key=lambda kv: int(kv[0]))),
                              indent=0)
            user = self._sources.setdefault("user", {})
            if text:
                user[i] = text
            else:
                user.pop(i, None)
            self._merged = None
            self._labels_version += 1

    def write_source_labels(self, source: str, labels: dict[int, str], *, replace: bool = False
                            ) -> None:
        """Merge (or replace) the labels of the "imported" or "hand" source and save them."""
        if source not in ("imported", "hand", "automatic"):
            raise InputError(f"label source {source!r}: only imported, hand or automatic labels "
                             "are written this way (user labels use set_user_label)")
        with self._lock:
            if source == "automatic":
                auto = [""] * self.d_sae if replace else list(self._automatic)
                for i, t in labels.items():
                    auto[self._check(i)] = t
                self._automatic = auto
            else:
                cur = {} if replace else dict(self._sources.get(source, {}))
                for i, t in labels.items():
                    i = self._check(i)
                    if t:
                        cur[i] = t
                    else:
                        cur.pop(i, None)
                self._sources[source] = cur
            self._save_labels()
            self._merged = None
            self._labels_version += 1

    def _save_labels(self) -> None:
        data = {"version": VERSION,
                "automatic": self._automatic,
                "imported": {str(i): t for i, t in sorted(self._sources.get("imported", {}).items())},
                "hand": {str(i): t for i, t in sorted(self._sources.get("hand", {}).items())}}
        atomic_write_json(self.path / LABELS, data)

    # ---- bulk statistics ------------------------------------------------------------
    def _stats_file(self) -> Path:
        return self.path / STATS

    def _stat_keys(self) -> set[str]:
        """The tensors in stats.safetensors, each checked against its documented shape (the
        header alone: no tensor is read here)."""
        if self._stats_keys is None:
            from safetensors import safe_open

            path = self._stats_file()
            if not path.exists():
                self._stats_keys = set()
                return self._stats_keys
            check_file(path, "catalog statistics file")
            try:
                with safe_open(str(path), framework="pt") as f:
                    shapes = {k: tuple(f.get_slice(k).get_shape()) for k in f.keys()}
            except Exception as exc:  # noqa: BLE001 - safetensors raises several kinds
                raise InputError(f"{path}: not a readable safetensors file ({one_line(exc)})"
                                 ) from None
            check_stat_shapes(path, shapes, self.d_sae)
            self._stats_keys = set(shapes)
        return self._stats_keys

    def _stat(self, key: str, rows: slice | None = None) -> torch.Tensor | None:
        from safetensors import safe_open

        if key not in self._stat_keys():
            return None
        try:
            with safe_open(str(self._stats_file()), framework="pt") as f:
                t = f.get_tensor(key) if rows is None else f.get_slice(key)[rows]
        except Exception as exc:  # noqa: BLE001
            raise InputError(f"{self._stats_file()}: tensor {key!r} is not readable "
                             f"({one_line(exc)})") from None
        if t.is_floating_point() and not torch.isfinite(t).all():
            raise InputError(f"{self._stats_file()}: tensor {key!r} holds NaN or Inf values")
        return t

    def max_activations(self) -> torch.Tensor | None:
        """[d_sae] float32 on the CPU: each feature's largest activation seen in the corpus."""
        with self._lock:
            if self._max is None:
                t = self._stat("max_act")
                self._max = None if t is None else t.float().contiguous()
            return self._max

    def densities(self) -> torch.Tensor | None:
        """[d_sae] float32: the fraction of corpus tokens on which each feature is active."""
        with self._lock:
            if self._density is None:
                t = self._stat("density")
                self._density = None if t is None else t.float().contiguous()
            return self._density

    # ---- per-feature evidence -------------------------------------------------------
    def vocab(self) -> list[str]:
        with self._lock:
            if self._vocab is None:
                p = self.path / VOCAB
                v = _read_json(p, "vocabulary") if p.exists() else []
                if not isinstance(v, list):
                    raise InputError(f"{p}: expected a list of token texts")
                self._vocab = [t if isinstance(t, str) else "" for t in v]
            return self._vocab

    def token_text(self, token_id: int) -> str:
        v = self.vocab()
        return v[token_id] if 0 <= token_id < len(v) else f"<{token_id}>"

    def documents(self) -> list[dict]:
        with self._lock:
            if self._documents is None:
                p = self.path / DOCUMENTS
                d = _read_json(p, "document list") if p.exists() else []
                if not isinstance(d, list):
                    raise InputError(f"{p}: expected a list of documents")
                self._documents = [x if isinstance(x, dict) else {} for x in d]
            return self._documents

    def _snippet_arrays(self) -> dict[str, np.ndarray] | None:
        with self._lock:
            if self._snip is None:
                folder = self.path / SNIPPETS
                if not (folder / "offsets.npy").exists():
                    return None
                arrays = {}
                for name in SNIPPET_ARRAYS:
                    # check_file first: np.load on a FIFO would block for ever
                    p = check_file(folder / f"{name}.npy", "snippet array")
                    try:
                        arrays[name] = np.load(p, mmap_mode="r", allow_pickle=False)
                    except Exception as exc:  # noqa: BLE001 - numpy's header parser raises
                        # ValueError, SyntaxError, tokenize.TokenError, ... for a bad header
                        raise InputError(f"{p}: not a readable snippet array ({one_line(exc)})"
                                         ) from None
                check_snippet_arrays(folder, arrays, self.d_sae)
                self._snip = arrays
            return self._snip

    def snippets(self, i: int, limit: int | None = None) -> list[Snippet]:
        """Feature i's top activating snippets, strongest first (reads only feature i's slice)."""
        i = self._check(i)
        a = self._snippet_arrays()
        if a is None:
            return []
        lo, hi = int(a["offsets"][i]), int(a["offsets"][i + 1])
        if limit is not None:
            hi = min(hi, lo + limit)
        if hi <= lo:
            return []
        starts = np.asarray(a["token_start"][lo: hi + 1])
        peaks = np.asarray(a["peak"][lo:hi])
        maxes = np.asarray(a["max"][lo:hi], dtype=np.float64)
        docs = np.asarray(a["doc"][lo:hi])
        t0, t1 = int(starts[0]), int(starts[-1])
        toks = np.asarray(a["tokens"][t0:t1])
        vals = np.asarray(a["values"][t0:t1], dtype=np.float64)
        folder = self.path / SNIPPETS
        if np.any(np.diff(starts) < 0):
            raise InputError(f"{folder / 'token_start.npy'}: snippet starts go backwards "
                             f"for feature {i}; the catalog is corrupt")
        if not (np.isfinite(maxes).all() and np.isfinite(vals).all()):
            raise InputError(f"{folder}: feature {i}'s snippets hold NaN or Inf values")
        documents = self.documents() if (docs >= 0).any() else []
        out = []
        for j in range(hi - lo):
            s, e = int(starts[j]) - t0, int(starts[j + 1]) - t0
            ids = [int(x) for x in toks[s:e]]
            d = int(docs[j])
            out.append(Snippet(tokens=[self.token_text(t) for t in ids],
                               values=[float(x) for x in vals[s:e]],
                               peak=min(max(int(peaks[j]), 0), max(e - s - 1, 0)),
                               max_value=float(maxes[j]), token_ids=ids,
                               document=documents[d] if 0 <= d < len(documents) else None))
        return out

    def histogram(self, i: int) -> tuple[list[float], list[int]] | None:
        """Feature i's activation histogram over the bins where it has counts."""
        i = self._check(i)
        counts = self._stat("hist_counts", slice(i, i + 1))
        edges = self._stat("hist_edges")
        if counts is None or edges is None:
            return None
        c = counts[0].tolist()
        nz = [j for j, n in enumerate(c) if n]
        if not nz:
            return ([], [])
        lo, hi = nz[0], nz[-1] + 1
        return ([float(x) for x in edges[lo: hi + 1].tolist()], [int(n) for n in c[lo:hi]])

    def _logit_tokens(self, i: int, which: str) -> list[tuple[str, float]]:
        ids = self._stat(f"{which}_ids", slice(i, i + 1))
        vals = self._stat(f"{which}_values", slice(i, i + 1))
        if ids is None or vals is None:
            return []
        return [(self.token_text(int(t)), float(v)) for t, v in zip(ids[0].tolist(), vals[0].tolist())]

    def promoted(self, i: int) -> list[tuple[str, float]]:
        return self._logit_tokens(self._check(i), "promoted")

    def suppressed(self, i: int) -> list[tuple[str, float]]:
        return self._logit_tokens(self._check(i), "suppressed")

    def feature(self, i: int) -> FeatureRecord:
        """Everything the catalog knows about feature i, read from disk now."""
        i = self._check(i)
        mx = self._stat("max_act", slice(i, i + 1)) if self._max is None else self._max[i: i + 1]
        dn = self._stat("density", slice(i, i + 1)) if self._density is None else self._density[i: i + 1]
        return FeatureRecord(
            index=i, label=self.label(i), label_source=self.label_source(i),
            max_activation=None if mx is None else float(mx[0]),
            density=None if dn is None else float(dn[0]),
            snippets=self.snippets(i), histogram=self.histogram(i),
            promoted=self.promoted(i), suppressed=self.suppressed(i),
            labels_by_source=self.labels_by_source(i))


# ---- where catalogs live ----------------------------------------------------------------
def catalog_folder_for(sae_path: Path | str) -> Path:
    """`S/catalog/` for an SAE folder S; `<file>.catalog/` for a single-file SAE."""
    p = Path(sae_path).expanduser()
    return p / "catalog" if p.is_dir() else p.with_name(p.name + ".catalog")


def create_empty(folder: Path, d_sae: int, **info: Any) -> Catalog:
    """A catalog with no statistics yet (labels can be imported into it)."""
    folder = Path(folder)
    if (folder / MANIFEST).is_file():
        cat = Catalog(folder)
        if cat.d_sae != d_sae:
            raise InputError(f"{folder}: this catalog is for an SAE with {cat.d_sae} features, "
                             f"not {d_sae}")
        return cat
    manifest = {"format": FORMAT, "version": VERSION, "d_sae": int(d_sae), "built": False, **info}
    atomic_write_json(folder / MANIFEST, manifest, indent=1)
    return Catalog(folder)


def open_catalog_for(sae_path: Path | str | None, d_sae: int) -> Catalog | None:
    """The catalog stored beside the SAE at `sae_path`, or None when there is none. A catalog
    for another number of features is an error: it belongs to another SAE."""
    if sae_path is None:
        return None
    folder = catalog_folder_for(sae_path)
    if not (folder / MANIFEST).exists():
        return None
    cat = Catalog(folder)
    if cat.d_sae != d_sae:
        raise InputError(f"{folder}: this catalog describes {cat.d_sae} features but the SAE has "
                         f"{d_sae}; it belongs to another SAE (move it away or rebuild it)")
    return cat
