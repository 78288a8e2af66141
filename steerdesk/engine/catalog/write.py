"""The last step of a catalog build: the accumulated state packed into the catalog's files,
with promoted tokens and automatic labels. Labels that were imported, hand-written or typed by
the user in a catalog already there (for the same SAE) are kept."""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np
import torch

from steerdesk.engine.catalog import store
from steerdesk.engine.catalog.accumulator import HIST_EDGES, N_BINS, TopKAccumulator
from steerdesk.engine.catalog.auto_labels import START, automatic_label, metadata_tag
from steerdesk.engine.catalog.corpus import Corpus
from steerdesk.engine.catalog.logit_lens import logit_effects, vocab_strings
from steerdesk.engine.errors import InputError
from steerdesk.engine.reading import special_ids

Progress = Callable[[float, str], None]


def write_catalog(session, out: Path, acc: TopKAccumulator, docs: dict[int, dict],
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
    vocab = vocab_strings(tok, max(model_vocab, len(tok)))
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


