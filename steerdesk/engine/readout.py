"""Reading SAE activations on a text, without steering: one forward pass, a full encode."""

from __future__ import annotations

from dataclasses import dataclass

import torch

from steerdesk.engine.errors import InputError
from steerdesk.engine.session import Session


@dataclass
class TextActivations:
    token_ids: list[int]
    token_texts: list[str]
    special: list[bool]          # BOS/EOS/pad and other special tokens
    acts: torch.Tensor           # [tokens, d_sae], float32 on the CPU


def activations_on_text(session: Session, text: str, *, max_tokens: int = 2048) -> TextActivations:
    tok = session.tokenizer
    ids = [int(i) for i in tok(text, add_special_tokens=True)["input_ids"]][:max_tokens]
    if not ids:
        raise InputError("the text is empty: type or select some text")
    captured: list[torch.Tensor] = []

    def grab(hidden: torch.Tensor):
        captured.append(session.sae.encode(hidden[0]).float().cpu())
        return None

    handle = session.hook.register(grab)
    try:
        with torch.inference_mode():
            session.model(input_ids=torch.tensor([ids], device=session.lm.device), use_cache=False)
    finally:
        handle.remove()
    special_ids = set(getattr(tok, "all_special_ids", []) or [])
    return TextActivations(ids, [tok.decode([i]) for i in ids], [i in special_ids for i in ids],
                           captured[0])


def top_features(acts: TextActivations, top: int = 20, by: str = "max") -> list[tuple[int, float]]:
    """Features ranked by their max (or mean) activation over the text's ordinary tokens."""
    keep = [i for i, s in enumerate(acts.special) if not s]
    if not keep:
        return []
    a = acts.acts[keep]
    score = a.max(dim=0).values if by == "max" else a.mean(dim=0)
    values, index = torch.topk(score, min(top, score.numel()))
    return [(int(i), float(v)) for i, v in zip(index, values) if v > 0]
