"""Reading SAE features on text: the activation at the SAE's hook, encoded, per token.

The forward pass stops at the hook (`hooks.capture_at`), so reading costs only the layers up
to it. Special tokens (BOS, EOS, pad, ...) are never evidence: `text_activations` marks them,
and the rankings leave them out. Needs no catalog; the catalog builds on this.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch

from steerdesk.engine.errors import InputError
from steerdesk.engine.hooks import capture_at

POOLS = ("max", "mean")


def special_ids(tokenizer) -> set[int]:
    """BOS / EOS / pad and the tokenizer's other special tokens: never counted as evidence."""
    ids: set[int] = set()
    for i in getattr(tokenizer, "all_special_ids", None) or []:
        if isinstance(i, int):
            ids.add(i)
    framing = set()
    for name in ("bos_token_id", "eos_token_id", "pad_token_id"):
        v = getattr(tokenizer, name, None)
        if isinstance(v, int):
            framing.add(v)
    unk = getattr(tokenizer, "unk_token_id", None)
    if unk not in framing:
        ids.discard(unk)            # unknown text is still text (unless unk doubles as BOS)
    return ids | framing


def pad_batch(seqs: Sequence[Sequence[int]], pad_id: int, device) -> tuple[torch.Tensor, torch.Tensor]:
    """Right-padded ids and attention mask (right padding leaves earlier positions unchanged
    in a causal model)."""
    n = max(len(s) for s in seqs)
    ids = torch.full((len(seqs), n), int(pad_id), dtype=torch.long)
    mask = torch.zeros((len(seqs), n), dtype=torch.long)
    for r, s in enumerate(seqs):
        ids[r, : len(s)] = torch.as_tensor(list(s), dtype=torch.long)
        mask[r, : len(s)] = 1
    return ids.to(device), mask.to(device)


def pad_id_of(tokenizer) -> int:
    for name in ("pad_token_id", "eos_token_id", "bos_token_id"):
        v = getattr(tokenizer, name, None)
        if isinstance(v, int):
            return v
    return 0


def max_positions(model) -> int | None:
    cfg = getattr(model, "config", None)
    for name in ("max_position_embeddings", "n_positions", "max_sequence_length"):
        v = getattr(cfg, name, None)
        if isinstance(v, int) and v > 0:
            return v
    return None


def _hook_batches(session, texts: Sequence[str], max_tokens: int, batch: int):
    """(token ids of each text in the batch, the activation at the hook [rows, T, d]) per batch
    of texts, right-padded; the forward pass stops at the hook."""
    tok = session.tokenizer
    limit = min(max_tokens, max_positions(session.model) or max_tokens)
    encoded = [[int(i) for i in tok(t, add_special_tokens=True)["input_ids"]][:limit]
               for t in texts]
    dev = session.lm.device
    pad = pad_id_of(tok)
    for start in range(0, len(encoded), batch):
        part = encoded[start: start + batch]
        nonempty = [s if s else [pad] for s in part]
        ids, mask = pad_batch(nonempty, pad, dev)
        yield part, capture_at(session.model, session.hook, ids, mask)


def _kept(ids: Sequence[int], specials: set[int]) -> torch.Tensor:
    return torch.tensor([i not in specials for i in ids], dtype=torch.bool)


def text_activations(session, texts: Sequence[str], *, max_tokens: int = 512, batch: int = 8
                     ) -> list[tuple[list[int], torch.Tensor, torch.Tensor]]:
    """For each text: its token ids, the feature activations [n, d_sae] (float32, CPU), and a
    bool mask [n] that is False at special tokens (BOS/EOS/pad...)."""
    specials = special_ids(session.tokenizer)
    out: list[tuple[list[int], torch.Tensor, torch.Tensor]] = []
    for part, hidden in _hook_batches(session, texts, max_tokens, batch):
        with torch.inference_mode():
            acts = session.sae.encode(hidden).float().cpu()
        for r, s in enumerate(part):
            out.append((s, acts[r, : len(s)], _kept(s, specials)))
    return out


def hook_activations(session, texts: Sequence[str], *, max_tokens: int = 512, batch: int = 8
                     ) -> list[tuple[list[int], torch.Tensor, torch.Tensor]]:
    """As `text_activations`, with the model's own activation at the SAE's hook [n, d_model]
    (float32, CPU) in place of the SAE's features."""
    specials = special_ids(session.tokenizer)
    out: list[tuple[list[int], torch.Tensor, torch.Tensor]] = []
    for part, hidden in _hook_batches(session, texts, max_tokens, batch):
        hidden = hidden.float().cpu()
        for r, s in enumerate(part):
            out.append((s, hidden[r, : len(s)], _kept(s, specials)))
    return out


def check_pool(by: str, what: str = "rank by") -> str:
    if by not in POOLS:
        raise InputError(f"{what} {by!r}: choose max or mean", field="by")
    return by


def pool(acts: torch.Tensor, keep: torch.Tensor, by: str) -> torch.Tensor | None:
    """One value per feature over the kept tokens: their max or mean; None when none is kept."""
    a = acts[keep]
    if a.shape[0] == 0:
        return None
    return a.max(dim=0).values if by == "max" else a.mean(dim=0)


def rank_features(acts: torch.Tensor, keep: torch.Tensor, top: int = 20, by: str = "max"
                  ) -> list[tuple[int, float]]:
    """The `top` features with the largest pooled value (> 0), as (index, value), strongest
    first, from one text's `text_activations`."""
    pooled = pool(acts, keep, check_pool(by))
    if pooled is None:
        raise InputError("the text has no tokens other than special ones (BOS/EOS); type some "
                         "text", field="text")
    vals, idx = pooled.topk(min(top, pooled.numel()))
    return [(int(i), float(v)) for i, v in zip(idx.tolist(), vals.tolist()) if v > 0]


def peak_token(acts: torch.Tensor, keep: torch.Tensor, index: int) -> int:
    """The position of the token where feature `index` is largest, special tokens left out."""
    column = acts[:, index].masked_fill(~keep, float("-inf"))
    return int(column.argmax())


def features_on_text(session, text: str, top: int = 20, by: str = "max"
                     ) -> list[tuple[int, float]]:
    """The features most active on `text`, by their max or mean over its tokens (special
    tokens such as BOS/EOS/pad are left out), as (index, value), strongest first."""
    check_pool(by)                  # before the model runs
    _, acts, keep = text_activations(session, [text])[0]
    return rank_features(acts, keep, top, by)
