"""Reading SAE feature activations of texts: the hidden state at the SAE's hook, encoded.

The forward pass stops at the hook (the layers after it cannot change what the SAE reads),
so reading activations costs only the layers up to the hook.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch

from steerdesk.engine.errors import InputError


class _Reached(Exception):
    """Raised inside the hook to end the forward pass once the hidden state is captured."""


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


def hidden_at_hook(session, input_ids: torch.Tensor, attention_mask: torch.Tensor | None = None
                   ) -> torch.Tensor:
    """The activation the SAE reads, [batch, seq, d_in], from one (truncated) forward pass."""
    grabbed: list[torch.Tensor] = []

    def grab(hidden: torch.Tensor):
        grabbed.append(hidden.detach())
        raise _Reached

    handle = session.hook.register(grab)
    try:
        with torch.inference_mode():
            session.model(input_ids=input_ids, attention_mask=attention_mask, use_cache=False)
    except _Reached:
        pass
    finally:
        handle.remove()
    if not grabbed:
        raise InputError(f"hook {session.hook.name!r}: the model never ran through "
                         f"{session.hook.description}")
    return grabbed[0]


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


def text_activations(session, texts: Sequence[str], *, max_tokens: int = 512, batch: int = 8
                     ) -> list[tuple[list[int], torch.Tensor, torch.Tensor]]:
    """For each text: its token ids, the feature activations [n, d_sae] (float32, CPU), and a
    bool mask [n] that is False at special tokens (BOS/EOS/pad...)."""
    tok = session.tokenizer
    specials = special_ids(tok)
    limit = min(max_tokens, max_positions(session.model) or max_tokens)
    encoded = []
    for t in texts:
        ids = [int(i) for i in tok(t, add_special_tokens=True)["input_ids"]][:limit]
        encoded.append(ids)
    out: list[tuple[list[int], torch.Tensor, torch.Tensor]] = []
    dev = session.lm.device
    pad = pad_id_of(tok)
    for start in range(0, len(encoded), batch):
        part = encoded[start: start + batch]
        nonempty = [s if s else [pad] for s in part]
        ids, mask = pad_batch(nonempty, pad, dev)
        hidden = hidden_at_hook(session, ids, mask)
        with torch.inference_mode():
            acts = session.sae.encode(hidden).float().cpu()
        for r, s in enumerate(part):
            keep = torch.tensor([i not in specials for i in s], dtype=torch.bool)
            out.append((s, acts[r, : len(s)], keep))
    return out
