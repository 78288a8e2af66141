"""A prompt too long for the model's context, cut to fit (the app asks for this; the CLI
keeps its error). The START of the prompt goes: the model continues the end, which is what the
user sees the continuation follow. A start-of-text token the tokenizer put first stays first,
as models are trained with it there."""

from __future__ import annotations

import torch

from steerdesk.engine.errors import InputError


def context_limit(model, hard_limit: int | None) -> int | None:
    """Positions the model takes: a hard limit (learned position embeddings), else the
    context its config names (`max_position_embeddings`), else None (no known end)."""
    if hard_limit is not None:
        return hard_limit
    n = getattr(getattr(model, "config", None), "max_position_embeddings", None)
    return int(n) if isinstance(n, int) and n > 0 else None


def fit_prompt(ids: list[int], limit: int | None, max_new_tokens: int,
               bos_id: int | None, hard: bool = True) -> tuple[list[int], int]:
    """(the ids that fit with `max_new_tokens` after them, how many were dropped). Where the
    new tokens alone overrun a soft limit (a rotary model's trained context), the prompt is
    left whole: cutting it could not make the run fit, and the model can go on past it."""
    if limit is None or len(ids) + max_new_tokens <= limit:
        return ids, 0
    head = ids[:1] if bos_id is not None and ids and ids[0] == bos_id else []
    room = limit - max_new_tokens - len(head)
    if room < 1 and not hard:
        return ids, 0
    if room < 1:
        raise InputError(f"{max_new_tokens} new tokens leave no room for the prompt in this "
                         f"model's {limit} positions; ask for fewer new tokens",
                         field="max_new_tokens")
    kept = head + ids[len(ids) - room:]
    return kept, len(ids) - len(kept)


def position_limit(model) -> int | None:
    """How many positions a model with learned position embeddings (GPT-2's wpe, OPT's) can
    take; None for rotary and other schemes, which have no hard end."""
    for name, module in model.named_modules():
        if name.rsplit(".", 1)[-1] in ("wpe", "embed_positions") and isinstance(
                module, torch.nn.Embedding):
            return int(module.num_embeddings)
    return None
