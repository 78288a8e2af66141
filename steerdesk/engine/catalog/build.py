"""Building a catalog for any model + SAE from the user's own text.

The corpus is tokenized into chunks of `context` tokens (each chunk starts with the tokenizer's
BOS, when it has one), run through the model in batches up to the SAE's hook, and encoded. Per
batch, all bookkeeping is vectorised over features:

- each feature's max over the positions of each sequence ([batch, d_sae]) is merged into a
  running [d_sae, k] top-k buffer with one torch.topk over the concatenation; only the
  (feature, sequence) pairs that enter the buffer get a snippet window gathered;
- on-counts (density), sums (mean when active) and a log-binned histogram are updated from
  the non-zero activations only.

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

import numpy as np
import torch

from steerdesk.engine.catalog import store
from steerdesk.engine.catalog.activations import (
    hidden_at_hook,
    max_positions,
    pad_batch,
    pad_id_of,
    prefix_ids,
    special_ids,
)
from steerdesk.engine.catalog.corpus import Corpus
from steerdesk.engine.errors import Cancelled, InputError

Progress = Callable[[float, str], None]
START = "\x00start"          # stands for a special token (BOS) before a feature's peak
STATE = ".build-state.pt"

# Histogram: 8 log-spaced bins per decade from 1e-3 to 1e5; bin 0 also takes (0, 1e-3],
# the last bin everything above its lower edge.
_E = np.geomspace(1e-3, 1e5, 65)
HIST_EDGES = np.concatenate([[0.0], _E[1:]]).astype(np.float32)    # 65 edges, 64 bins
N_BINS = len(HIST_EDGES) - 1

LANGUAGES = {"en": "English", "de": "German", "fr": "French", "es": "Spanish", "it": "Italian",
             "nl": "Dutch", "pt": "Portuguese", "ru": "Russian", "pl": "Polish", "sv": "Swedish",
             "da": "Danish", "no": "Norwegian", "nb": "Norwegian", "fi": "Finnish", "cs": "Czech",
             "tr": "Turkish", "el": "Greek", "zh": "Chinese", "ja": "Japanese", "ko": "Korean",
             "ar": "Arabic", "he": "Hebrew", "hi": "Hindi", "uk": "Ukrainian", "hu": "Hungarian",
             "ro": "Romanian", "ca": "Catalan", "eo": "Esperanto", "la": "Latin"}


# ---- the streaming accumulator ----------------------------------------------------------
class TopKAccumulator:
    """Running per-feature statistics and top-k snippets, all as [d_sae, ...] tensors."""

    def __init__(self, d_sae: int, k: int, before: int, after: int, device: torch.device):
        self.d_sae, self.k, self.before, self.after = d_sae, k, before, after
        self.W = before + after + 1
        F, W = d_sae, self.W
        self.device = device
        self.top_vals = torch.full((F, k), -1.0, device=device)
        self.top_tok = torch.full((F, k, W), -1, dtype=torch.int32, device=device)
        self.top_act = torch.zeros((F, k, W), dtype=torch.float32, device=device)
        self.top_doc = torch.full((F, k), -1, dtype=torch.long, device=device)
        self.on = torch.zeros(F, dtype=torch.long, device=device)
        self.total = torch.zeros(F, dtype=torch.float64, device=device)
        self.hist = torch.zeros(F * N_BINS, dtype=torch.long, device=device)
        self.offsets = torch.arange(-before, after + 1, device=device)

    def state(self) -> dict[str, torch.Tensor]:
        return {n: getattr(self, n).cpu() for n in
                ("top_vals", "top_tok", "top_act", "top_doc", "on", "total", "hist")}

    def load(self, state: dict[str, torch.Tensor]) -> None:
        for n, t in state.items():
            cur = getattr(self, n)
            if tuple(t.shape) != tuple(cur.shape):
                raise InputError(f"the saved build state does not fit this build ({n} has shape "
                                 f"{tuple(t.shape)}, expected {tuple(cur.shape)}); restart it")
            setattr(self, n, t.to(cur.device, cur.dtype))

    def add(self, acts: torch.Tensor, ids: torch.Tensor, real: torch.Tensor, docs: torch.Tensor
            ) -> None:
        """acts [b, T, F] float32 (0 at special and pad positions), ids [b, T], real [b, T]
        (False at padding), docs [b] document ids."""
        b, T, F = acts.shape
        k, W = self.k, self.W
        # density, mean-when-on, histogram: from the non-zero entries only
        flat = acts.reshape(-1)
        nz = torch.nonzero(flat > 0).squeeze(1)
        if nz.numel():
            v = flat[nz]
            f = nz % F
            ones = torch.ones_like(f)
            self.on.index_add_(0, f, ones)
            self.total.index_add_(0, f, v.double())
            # edges 1e-3 * 10^(j/8): the bin is a log, not a search
            bins = (torch.log10(v).add_(3.0).mul_(8.0)).floor_().clamp_(0, N_BINS - 1).long()
            self.hist.index_add_(0, f * N_BINS + bins, ones)
        # top-k over sequences: one candidate (the sequence max) per feature and sequence;
        # from the non-zero entries when they are few (TopK SAEs), else a dense reduction
        if nz.numel() * 16 <= flat.numel():
            seq_max = torch.zeros(b * F, device=acts.device)
            if nz.numel():
                seq_max.scatter_reduce_(0, (nz // (T * F)) * F + f, v, reduce="amax")
            seq_max = seq_max.view(b, F)
        else:
            seq_max = acts.amax(dim=1)                            # [b, F]
        cand = seq_max.t()                                        # [F, b]
        cand = torch.where(cand > 0, cand, torch.full_like(cand, -1.0))
        # only features with a candidate above their current k-th value can change
        rows = torch.nonzero((cand > self.top_vals[:, -1:]).any(dim=1)).squeeze(1)
        if rows.numel() == 0:
            return
        new_vals, sel_r = torch.cat([self.top_vals[rows], cand[rows]], dim=1).topk(k, dim=1)
        self.top_vals[rows] = new_vals
        is_new = (sel_r >= k) & (new_vals > 0)      # empty slots (-1) tie: not news
        old = sel_r.clamp(max=k - 1)
        tok_r = self.top_tok[rows].gather(1, old.unsqueeze(-1).expand(-1, -1, W))
        act_r = self.top_act[rows].gather(1, old.unsqueeze(-1).expand(-1, -1, W))
        doc_r = self.top_doc[rows].gather(1, old)
        wr, ws = torch.nonzero(is_new, as_tuple=True)             # winners: (row in R, slot)
        f = rows[wr]
        bi = sel_r[wr, ws] - k
        pos = acts[bi.unsqueeze(1), torch.arange(T, device=acts.device), f.unsqueeze(1)].argmax(1)
        win = pos.unsqueeze(1) + self.offsets                     # [n, W]
        inside = (win >= 0) & (win < T)
        wc = win.clamp(0, T - 1)
        bcol = bi.unsqueeze(1)
        keep = inside & real[bcol, wc]
        toks = torch.where(keep, ids[bcol, wc].to(torch.int32),
                           torch.full_like(wc, -1, dtype=torch.int32))
        vals = torch.where(keep, acts[bcol, wc, f.unsqueeze(1)],
                           torch.zeros((), device=acts.device))
        tok_r[wr, ws] = toks
        act_r[wr, ws] = vals
        doc_r[wr, ws] = docs[bi]
        self.top_tok[rows] = tok_r
        self.top_act[rows] = act_r
        self.top_doc[rows] = doc_r

    def referenced_docs(self) -> set[int]:
        d = self.top_doc[self.top_vals > 0]
        return set(int(x) for x in d.unique().tolist() if x >= 0)


# ---- the corpus as chunks ---------------------------------------------------------------
def _chunks(corpus: Corpus, tokenizer, context: int, tokens: int | None, specials: set[int]
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


# ---- automatic labels -------------------------------------------------------------------
def _shown(token: str) -> str:
    s = token.strip()
    if s:
        return s
    if "\n" in token:
        return "\\n"
    return "\u2423" if token else ""


def _suffix(tokens: list[str], weights: list[float]) -> str | None:
    words = [(t, w) for t, w in zip(tokens, weights) if len(t) >= 3 and t.isalpha()]
    if len({t for t, _ in words}) < 3:
        return None
    total = sum(weights) or 1.0
    best = None
    for n in (4, 3, 2):
        counts: Counter = Counter()
        for t, w in words:
            counts[t[-n:].lower()] += w
        suf, weight = counts.most_common(1)[0]
        if weight / total >= 0.6 and len({t for t, _ in words if t.lower().endswith(suf)}) >= 3:
            best = suf
            break
    return best


def metadata_tag(metas: list[dict], base_rates: dict[str, dict[Any, float]],
                 keys: Sequence[str] | None = None) -> str | None:
    """A prefix like "German text" when one metadata value dominates a feature's top snippets
    (at least 70% of them, 3 or more) and is not simply what most of the corpus is."""
    if len(metas) < 3:
        return None
    parts = []
    present = {k for m in metas for k in m}
    if keys is not None:
        present &= set(keys)
    keys = sorted(present, key=lambda k: (k not in ("lang", "language"), k))
    for key in keys:
        values = Counter(m.get(key) for m in metas if key in m)
        if not values:
            continue
        value, n = values.most_common(1)[0]
        if n / len(metas) < 0.7 or base_rates.get(key, {}).get(value, 0.0) > 0.5:
            continue
        if key in ("lang", "language"):
            parts.append(f"{LANGUAGES.get(str(value).lower(), str(value))} text")
        else:
            parts.append(str(value))
    if not parts:
        return None
    return parts[0] + (f" ({', '.join(parts[1:])})" if len(parts) > 1 else "")


def automatic_label(peaks: list[str], weights: list[float], before: list[str],
                    promoted: list[str], tag: str | None = None) -> str:
    """A short label from a feature's top activating tokens, their context and the tokens it
    promotes: "'the'", "'and' / 'or'", "words ending in '-ing'", "... after 'of'", "(-> 'x')"."""
    if not peaks:
        return ""
    shown = [_shown(t) for t in peaks]
    total = sum(weights) or 1.0
    counts: Counter = Counter()
    for t, w in zip(shown, weights):
        counts[t] += w
    ranked = counts.most_common()
    top, top_w = ranked[0]
    if top_w / total >= 0.5:
        core = f"'{top}'"
        if len(ranked) > 1 and ranked[1][1] / total >= 0.2:
            core += f" / '{ranked[1][0]}'"
    else:
        suf = _suffix(shown, weights)
        core = (f"words ending in '-{suf}'" if suf
                else " / ".join(f"'{t}'" for t, _ in ranked[:3]))
    prev = Counter(_shown(t) for t in before if t)
    if prev and len(before) >= 3:
        p, n = prev.most_common(1)[0]
        if n / len(before) >= 0.6 and p:
            core += " at the start of a text" if p == START else f" after '{p}'"
    if promoted:
        core += " (\u2192 " + ", ".join(f"'{_shown(t)}'" for t in promoted[:2]) + ")"
    return f"{tag}: {core}" if tag else core


# ---- promoted / suppressed tokens -------------------------------------------------------
FINAL_NORMS = ("model.norm", "model.language_model.norm", "transformer.ln_f",
               "gpt_neox.final_layer_norm", "model.decoder.final_layer_norm", "model.final_norm")


def _final_norm(model):
    from steerdesk.engine.hooks import _get

    for path in FINAL_NORMS:
        try:
            m = _get(model, path)
        except (AttributeError, IndexError, ValueError):
            continue
        if isinstance(m, torch.nn.Module):
            return m, path
    return None, None


def logit_effects(session, n: int, vocab_size: int | None = None,
                  progress: Progress | None = None) -> tuple[torch.Tensor, ...] | None:
    """Top promoted and suppressed tokens of every feature: its decoder row, put through the
    model's final norm as if it were the whole residual (the norm's scale drops out; its gain
    and centring stay), times the unembedding. Returns (pos ids, pos values, neg ids, neg
    values), each [d_sae, n], and the method name is in `logit_effects.method`."""
    model = session.model
    out_emb = model.get_output_embeddings()
    if out_emb is None or n <= 0:
        return None
    W_U = out_emb.weight                                              # [V, d]
    V = W_U.shape[0] if vocab_size is None else min(vocab_size, W_U.shape[0])
    if W_U.shape[1] != session.sae.d_in:
        return None                          # SAE not on the residual stream width
    norm, _ = _final_norm(model)
    logit_effects.method = "final_norm" if norm is not None else "raw"
    F = session.sae.d_sae
    n = min(n, V)
    dev = W_U.device
    pos_i = torch.zeros((F, n), dtype=torch.int32)
    pos_v = torch.zeros((F, n))
    neg_i = torch.zeros((F, n), dtype=torch.int32)
    neg_v = torch.zeros((F, n))
    chunk = max(1, min(F, (1 << 24) // max(1, V)))
    W_dec = session.sae.W_dec
    with torch.inference_mode():
        zero = None
        if norm is not None:
            zero = norm(torch.zeros((1, W_U.shape[1]), device=dev, dtype=W_U.dtype))
        for s in range(0, F, chunk):
            rows = W_dec[s: s + chunk].to(dev, W_U.dtype)
            if norm is not None:
                rows = norm(rows) - zero
            logits = (rows @ W_U[:V].t()).float()
            top = logits.topk(n, dim=1)
            bot = logits.topk(n, dim=1, largest=False)
            pos_i[s: s + chunk], pos_v[s: s + chunk] = top.indices.int().cpu(), top.values.cpu()
            neg_i[s: s + chunk], neg_v[s: s + chunk] = bot.indices.int().cpu(), bot.values.cpu()
            if progress:
                progress(min(1.0, (s + chunk) / F), "Promoted and suppressed tokens")
    return pos_i, pos_v, neg_i, neg_v


logit_effects.method = "raw"


def _vocab_strings(tokenizer, size: int) -> list[str]:
    n = len(tokenizer)
    out = []
    for i in range(size):
        if i >= n:
            out.append("")
            continue
        try:
            out.append(tokenizer.decode([i], skip_special_tokens=False))
        except Exception:  # noqa: BLE001 - odd ids in odd tokenizers
            out.append("")
    return out


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
        hidden = hidden_at_hook(session, ids, mask)
        T = ids.shape[1]
        step = max(1, encode_budget // max(1, T * F))
        with torch.inference_mode():
            for s in range(0, len(seqs), step):
                h = hidden[s: s + step]
                acts = sae.encode(h).float()
                acts.mul_(valid[s: s + step].unsqueeze(-1))
                acc.add(acts, ids[s: s + step], real[s: s + step], doc_ids[s: s + step])

    stream = _chunks(src, tok, context, tokens, specials)
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
    cat = _write(session, out, acc, docs, meta_counts, tokens_seen, sequences, context,
                 logit_tokens, metadata_tags, src, report)
    if state_path.is_file():
        state_path.unlink()
    report(1.0, f"Catalog built from {tokens_seen:,} tokens")
    return cat


def _write(session, out: Path, acc: TopKAccumulator, docs: dict[int, dict],
           meta_counts: dict[str, Counter], tokens_seen: int, sequences: int, context: int,
           logit_tokens: int, metadata_tags: bool | Sequence[str], src: Corpus,
           report: Progress) -> store.Catalog:
    F, k = acc.d_sae, acc.k
    tok = session.tokenizer
    specials = special_ids(tok)
    vals = acc.top_vals.cpu()
    top_tok = acc.top_tok.cpu().numpy()
    top_act = acc.top_act.cpu().numpy()
    top_doc = acc.top_doc.cpu().numpy()
    live = (vals > 0).numpy()                                  # [F, k], sorted desc per row
    counts = live.sum(axis=1)
    offsets = np.zeros(F + 1, dtype=np.int64)
    offsets[1:] = np.cumsum(counts)
    # pack: drop padding (-1) tokens; the peak sits at index `before` of the untrimmed window
    tok_sel = top_tok[live]                                     # [n, W] in feature, rank order
    act_sel = top_act[live]
    doc_sel = top_doc[live]
    present = tok_sel >= 0
    lengths = present.sum(axis=1)
    lead = (~present[:, : acc.before]).sum(axis=1)             # pads before the peak
    peaks = (acc.before - lead).astype(np.int32)
    token_start = np.zeros(len(tok_sel) + 1, dtype=np.int64)
    token_start[1:] = np.cumsum(lengths)
    flat_tokens = tok_sel[present].astype(np.int32)
    flat_values = act_sel[present].astype(np.float32)
    snip_max = vals.numpy()[live].astype(np.float32)
    # documents referenced by snippets, renumbered
    used = sorted(set(int(d) for d in doc_sel.tolist() if d >= 0))
    renum = {d: j for j, d in enumerate(used)}
    doc_idx = np.array([renum.get(int(d), -1) for d in doc_sel.tolist()], dtype=np.int32)
    documents = [docs.get(d, {"source": "", "meta": {}}) for d in used]

    snip = out / store.SNIPPETS
    for name, arr in (("offsets", offsets), ("token_start", token_start), ("peak", peaks),
                      ("max", snip_max), ("doc", doc_idx), ("tokens", flat_tokens),
                      ("values", flat_values)):
        store.atomic_save_npy(snip / f"{name}.npy", arr)
    model_vocab = session.model.get_input_embeddings().weight.shape[0]
    vocab = _vocab_strings(tok, max(model_vocab, len(tok)))
    store.atomic_write_json(out / store.VOCAB, vocab)
    store.atomic_write_json(out / store.DOCUMENTS, documents)

    on = acc.on.cpu()
    tensors: dict[str, torch.Tensor] = {
        "max_act": vals[:, 0].clamp_min(0).float(),
        "density": (on.double() / max(1, tokens_seen)).float(),
        "mean_act": (acc.total.cpu() / on.clamp_min(1).double()).float(),
        "hist_counts": acc.hist.cpu().view(F, N_BINS),
        "hist_edges": torch.from_numpy(HIST_EDGES.copy()),
    }
    report(0.96, "Promoted and suppressed tokens")
    effects = logit_effects(session, logit_tokens, vocab_size=len(tok),
                            progress=lambda f, m: report(0.96 + 0.02 * f, m))
    method = None
    if effects is not None:
        method = logit_effects.method
        tensors.update(promoted_ids=effects[0], promoted_values=effects[1],
                       suppressed_ids=effects[2], suppressed_values=effects[3])
    store.atomic_save_safetensors(out / store.STATS, tensors)

    report(0.98, "Automatic labels")
    base = {key: {v: n / max(1, sum(c.values())) for v, n in c.items()}
            for key, c in meta_counts.items()}
    prom = effects[0].numpy() if effects is not None else None
    auto = []
    for f in range(F):
        lo, hi = offsets[f], offsets[f + 1]
        if hi <= lo:
            auto.append("")
            continue
        peak_t, prev_t, weights, metas = [], [], [], []
        for s in range(lo, hi):
            a, b = token_start[s], token_start[s + 1]
            p = peaks[s]
            ids = flat_tokens[a:b]
            peak_t.append(vocab[ids[p]] if 0 <= ids[p] < len(vocab) else "")
            prev_t.append("" if p == 0 else START if int(ids[p - 1]) in specials
                          else vocab[ids[p - 1]] if 0 <= ids[p - 1] < len(vocab) else "")
            weights.append(float(snip_max[s]))
            d = doc_idx[s]
            if d >= 0 and documents[d].get("meta"):
                metas.append(documents[d]["meta"])
        tag = (metadata_tag(metas, base, None if metadata_tags is True else list(metadata_tags))
               if metadata_tags else None)
        promoted = [vocab[int(i)] for i in prom[f][:2]] if prom is not None else []
        auto.append(automatic_label(peak_t, weights, prev_t, promoted, tag))

    # keep imported / hand / user labels of a catalog already there (if for this SAE)
    old_labels = None
    if (out / store.MANIFEST).is_file():
        try:
            old = store.Catalog(out)
            if old.d_sae == F:
                old_labels = old
        except InputError:
            old_labels = None
    manifest = {"format": store.FORMAT, "version": store.VERSION, "d_sae": F, "built": True,
                "model": session.lm.name, "sae": str(session.sae_path) if session.sae_path else None,
                "hook": session.hook.name, "tokens": int(tokens_seen), "sequences": int(sequences),
                "context": context, "top_k": k, "window": [acc.before, acc.after],
                "histogram": "log", "logit_lens": method, "corpus": src.description,
                "vocab_size": len(vocab), "created": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
                "special_tokens": "excluded"}
    labels = {"version": store.VERSION, "automatic": auto,
              "imported": ({str(i): t for i, t in old_labels.source_labels("imported").items()}
                           if old_labels else {}),
              "hand": ({str(i): t for i, t in old_labels.source_labels("hand").items()}
                       if old_labels else {})}
    store.atomic_write_json(out / store.LABELS, labels)
    if old_labels is None and (out / store.USER_LABELS).is_file():
        (out / store.USER_LABELS).unlink()        # user labels of another SAE
    store.atomic_write_json(out / store.MANIFEST, manifest, indent=1)
    return store.Catalog(out)

