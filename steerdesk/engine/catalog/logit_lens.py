"""Promoted and suppressed tokens: what each feature's decoder row does to the next-token
logits when put through the model's final norm and unembedding."""

from __future__ import annotations

from collections.abc import Callable

import torch

from steerdesk.engine.hooks import find_module

Progress = Callable[[float, str], None]

FINAL_NORMS = ("model.norm", "model.language_model.norm", "transformer.ln_f",
               "gpt_neox.final_layer_norm", "model.decoder.final_layer_norm", "model.final_norm")


def final_norm(model) -> tuple[torch.nn.Module | None, str | None]:
    """The model's norm before the unembedding, and its path; (None, None) where none is known."""
    for path in FINAL_NORMS:
        m = find_module(model, path)
        if m is not None:
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
    norm, _ = final_norm(model)
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


def vocab_strings(tokenizer, size: int) -> list[str]:
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

