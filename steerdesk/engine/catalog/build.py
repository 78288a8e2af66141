"""Building a catalog for any model + SAE from the user's own text.

The corpus is tokenized into chunks of `context` tokens (each chunk starts with the tokenizer's
BOS, when it has one), run through the model in batches up to the SAE's hook, and encoded; the
activations go into a `TopKAccumulator` (accumulator.py) and, at the end, into the catalog's
files (write.py).

Special tokens (BOS, EOS, pad, ...) are never evidence: their activations are set to 0 before
anything is counted. A checkpoint of the whole state is saved every `checkpoint_seconds` and
when the build is cancelled; the same call later resumes from it.
"""

from __future__ import annotations

import os
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

import torch

from steerdesk.engine.catalog import store
from steerdesk.engine.catalog.accumulator import TopKAccumulator
from steerdesk.engine.catalog.corpus import Corpus
from steerdesk.engine.catalog.write import write_catalog
from steerdesk.engine.errors import Cancelled, InputError
from steerdesk.engine.hooks import capture_at
from steerdesk.engine.reading import max_positions, pad_batch, pad_id_of, special_ids

Progress = Callable[[float, str], None]
STATE = ".build-state.pt"


# ---- the corpus as chunks ---------------------------------------------------------------
def prefix_ids(tokenizer) -> list[int]:
    """The ids a tokenizer puts before a text (usually [BOS], sometimes nothing)."""
    try:
        with_special = tokenizer("a", add_special_tokens=True)["input_ids"]
        without = tokenizer("a", add_special_tokens=False)["input_ids"]
    except Exception:  # noqa: BLE001 - odd tokenizers: no prefix
        return []
    n = len(with_special) - len(without)
    if n > 0 and with_special[n:n + len(without)] == without:
        return [int(i) for i in with_special[:n]]
    return []


def chunks(corpus: Corpus, tokenizer, context: int, tokens: int | None, specials: set[int]
            ) -> Iterator[tuple[list[int], int, Any, int, float]]:
    """(ids, document number, document, counted tokens in this chunk, fraction read)."""
    prefix = prefix_ids(tokenizer)
    room = max(1, context - len(prefix))
    produced = 0
    for doc_no, (doc, fraction) in enumerate(corpus):
        if not doc.text:
            continue
        ids = [int(i) for i in tokenizer(doc.text, add_special_tokens=False)["input_ids"]]
        for s in range(0, len(ids), room):
            piece = ids[s: s + room]
            counted = sum(1 for i in piece if i not in specials)
            if tokens is not None and produced + counted > tokens:
                cut, n = 0, 0
                for cut, i in enumerate(piece, 1):
                    n += i not in specials
                    if produced + n >= tokens:
                        break
                piece = piece[:cut]
                counted = sum(1 for i in piece if i not in specials)
            if not piece:
                return
            produced += counted
            yield prefix + piece, doc_no, doc, counted, fraction
            if tokens is not None and produced >= tokens:
                return



# ---- the build --------------------------------------------------------------------------
def _fmt_time(seconds: float) -> str:
    seconds = max(0, int(seconds))
    if seconds >= 3600:
        return f"{seconds // 3600}h{seconds % 3600 // 60:02d}m"
    if seconds >= 60:
        return f"{seconds // 60}m{seconds % 60:02d}s"
    return f"{seconds}s"


def build_catalog(session, corpus: str | Path | Sequence[Any], out_folder: str | Path | None = None,
                  *, tokens: int | None = None, context: int = 128, batch_size: int = 8,
                  top_k: int = 10, window: tuple[int, int] = (20, 6), logit_tokens: int = 10,
                  progress: Progress | None = None,
                  cancelled: Callable[[], bool] | threading.Event | None = None,
                  restart: bool = False, checkpoint_seconds: float = 60.0,
                  encode_budget: int = 1 << 25,
                  metadata_tags: bool | Sequence[str] = True,
                  _stop_after_batches: int | None = None) -> store.Catalog:
    """Build (or resume building) the catalog of `session`'s SAE from `corpus` (a .txt /
    .jsonl file, a folder of them, or a list of texts / {"text", ...metadata} dicts).

    Writes `out_folder` (default: beside the SAE) and returns the opened catalog. Labels that
    were imported, hand-written or typed by the user in an existing catalog there are kept.
    `cancelled` is polled after every batch; when it says yes, the state is saved and
    `Cancelled` is raised; calling again with the same arguments resumes.
    `metadata_tags`: True (any metadata key may tag a label), False, or the keys to use,
    e.g. ("language", "collection")."""
    report = progress or (lambda f, m: None)
    is_cancelled = (cancelled.is_set if isinstance(cancelled, threading.Event)
                    else cancelled or (lambda: False))
    if tokens is not None and tokens <= 0:
        raise InputError(f"tokens {tokens}: must be a positive number of tokens", field="tokens")
    if context < 2:
        raise InputError(f"context {context}: must be at least 2 tokens")
    if top_k < 1:
        raise InputError(f"top-k {top_k}: must be at least 1")
    if out_folder is None:
        if session.sae_path is None:
            raise InputError("this SAE was not loaded from a path: give an output folder")
        out_folder = store.catalog_folder_for(session.sae_path)
    out = Path(out_folder)
    out.mkdir(parents=True, exist_ok=True)
    src = Corpus(corpus)
    context = min(context, max_positions(session.model) or context)
    sae, tok = session.sae, session.tokenizer
    F = sae.d_sae
    before, after = int(window[0]), int(window[1])
    specials = special_ids(tok)
    fingerprint = {"corpus": src.fingerprint(), "tokens": tokens, "context": context,
                   "top_k": top_k, "window": [before, after], "d_sae": F,
                   "sae": str(session.sae_path), "hook": session.hook.name,
                   "model": session.lm.name}
    dev = sae.device
    acc = TopKAccumulator(F, top_k, before, after, dev)
    docs: dict[int, dict] = {}
    meta_counts: dict[str, Counter] = {}
    n_docs_seen = -1
    chunks_done = tokens_seen = sequences = 0
    elapsed_before = 0.0
    state_path = out / STATE
    if state_path.is_file() and not restart:
        try:
            # weights_only: the state holds only tensors and plain values, and a catalog folder
            # from elsewhere must not be able to run code through a crafted state file
            saved = torch.load(state_path, map_location="cpu", weights_only=True)
        except Exception as exc:  # noqa: BLE001
            raise InputError(f"{state_path}: the saved build state is unreadable ({exc}); "
                             "restart the build") from None
        if saved.get("fingerprint") != fingerprint:
            raise InputError(f"{out}: an unfinished build with other settings (corpus, tokens, "
                             "SAE...) is saved there; rerun it with the same settings to resume, "
                             "or restart it", field="restart",
                             cli_hint="to start over, add --restart")
        acc.load(saved["acc"])
        docs = {int(k): v for k, v in saved["docs"].items()}
        meta_counts = {k: Counter(dict(v)) for k, v in saved["meta_counts"].items()}
        chunks_done, tokens_seen = saved["chunks_done"], saved["tokens_seen"]
        sequences, n_docs_seen = saved["sequences"], saved["n_docs_seen"]
        elapsed_before = saved.get("elapsed", 0.0)
        report(0.0, f"Resuming after {tokens_seen:,} tokens")

    def save_state(elapsed: float) -> None:
        keep = acc.referenced_docs()
        for d in [d for d in docs if d not in keep]:
            del docs[d]
        tmp = state_path.with_name(state_path.name + ".tmp")
        torch.save({"fingerprint": fingerprint, "acc": acc.state(), "docs": docs,
                    "meta_counts": {k: dict(c) for k, c in meta_counts.items()},
                    "chunks_done": chunks_done,
                    "tokens_seen": tokens_seen, "sequences": sequences,
                    "n_docs_seen": n_docs_seen, "elapsed": elapsed}, tmp)
        os.replace(tmp, state_path)

    pad = pad_id_of(tok)
    special_list = torch.tensor(sorted(specials) or [-1], device=dev)
    t_start = time.perf_counter()
    last_save = t_start
    save_cost = 0.0
    batch: list[tuple[list[int], int]] = []
    fraction = 0.0
    batches_run = 0

    def run_batch() -> None:
        seqs = [s for s, _ in batch]
        ids, mask = pad_batch(seqs, pad, dev)
        real = mask.bool()
        valid = real & ~torch.isin(ids, special_list)
        doc_ids = torch.tensor([d for _, d in batch], dtype=torch.long, device=dev)
        hidden = capture_at(session.model, session.hook, ids, mask)
        T = ids.shape[1]
        step = max(1, encode_budget // max(1, T * F))
        with torch.inference_mode():
            for s in range(0, len(seqs), step):
                h = hidden[s: s + step]
                acts = sae.encode(h).float()
                acts.mul_(valid[s: s + step].unsqueeze(-1))
                acc.add(acts, ids[s: s + step], real[s: s + step], doc_ids[s: s + step])

    stream = chunks(src, tok, context, tokens, specials)
    for n, (ids, doc_no, doc, counted, fraction) in enumerate(stream):
        if n < chunks_done:
            continue
        if doc_no > n_docs_seen:
            n_docs_seen = doc_no
            for key, value in doc.meta.items():
                meta_counts.setdefault(key, Counter())[value] += 1
        docs.setdefault(doc_no, {"source": doc.source, "meta": doc.meta})
        batch.append((ids, doc_no))
        tokens_seen += counted
        if len(batch) < batch_size:
            continue
        run_batch()
        chunks_done += len(batch)
        sequences += len(batch)
        batch = []
        batches_run += 1
        now = time.perf_counter()
        done = tokens_seen / tokens if tokens else fraction
        rate = tokens_seen / max(1e-9, now - t_start + elapsed_before)
        eta = (now - t_start) * (1 - done) / max(1e-9, done) if done > 0 else 0
        report(0.95 * done, f"{tokens_seen:,} tokens, {rate:,.0f} tokens/s, ETA {_fmt_time(eta)}")
        if len(docs) > 50_000:
            keep = acc.referenced_docs() | {doc_no}
            for d in [d for d in docs if d not in keep]:
                del docs[d]
        stop_now = _stop_after_batches is not None and batches_run >= _stop_after_batches
        if is_cancelled() or stop_now:
            save_state(elapsed_before + now - t_start)
            raise Cancelled(f"catalog build stopped after {tokens_seen:,} tokens; "
                            "run it again to resume")
        # checkpoints cost at most ~5% of the time (the state of a 131k-feature SAE is large)
        if now - last_save >= max(checkpoint_seconds, 20 * save_cost):
            save_state(elapsed_before + now - t_start)
            last_save = time.perf_counter()
            save_cost = last_save - now
    if batch:
        run_batch()
        chunks_done += len(batch)
        sequences += len(batch)
    if tokens_seen == 0:
        raise InputError(f"{src.description}: the corpus holds no text tokens")
    report(0.95, "Writing the catalog")
    cat = write_catalog(session, out, acc, docs, meta_counts, tokens_seen, sequences, context,
                 logit_tokens, metadata_tags, src, report)
    if state_path.is_file():
        state_path.unlink()
    report(1.0, f"Catalog built from {tokens_seen:,} tokens")
    return cat

