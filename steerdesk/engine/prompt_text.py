"""A prompt as the token ids fed to the model (chat template or not), and new tokens as text
pieces that join to the decoded whole, and the prompt tokens' own log-probs. Used by
generation.py and the prompted row."""

from __future__ import annotations

import torch


def encode_prompt(tokenizer, prompt: str, chat: bool) -> tuple[list[int], bool]:
    """Token ids fed to the model (BOS included when the tokenizer adds one)."""
    if chat and getattr(tokenizer, "chat_template", None):
        ids = tokenizer.apply_chat_template([{"role": "user", "content": prompt}],
                                            add_generation_prompt=True, tokenize=True)
        if hasattr(ids, "keys"):  # newer transformers return a BatchEncoding
            ids = ids["input_ids"]
        return [int(i) for i in ids], True
    return [int(i) for i in tokenizer(prompt, add_special_tokens=True)["input_ids"]], False


class IncrementalText:
    """Per-row text pieces that join to the decoded whole, holding back half a character
    (byte-level BPE splits multi-byte characters across tokens)."""

    def __init__(self, tokenizer):
        self.tokenizer = tokenizer
        self.ids: list[int] = []
        self.text = ""

    def push(self, token_id: int) -> str:
        self.ids.append(token_id)
        full = self.tokenizer.decode(self.ids, skip_special_tokens=False)
        if full.endswith("\ufffd"):
            return ""
        piece, self.text = full[len(self.text):], full
        return piece


def prompt_logprobs(model, prompt: torch.Tensor, hook) -> list[list[float | None]]:
    """[row][position]: each prompt token's log-prob given the ones before it, under each row's
    own (steered) distribution; None for the first token, which nothing predicts. The prompt's
    pass keeps only its last position's logits, so this is one more pass with every row and
    every position's logits, made only when asked for."""
    hook.in_prefill = hook.replaying = True   # steered as the prompt's pass was; rules unread
    try:
        with torch.inference_mode():
            logits = model(input_ids=prompt, use_cache=False).logits
    finally:
        hook.in_prefill = hook.replaying = False
    target = prompt[:, 1:].unsqueeze(-1)
    lp = torch.log_softmax(logits[:, :-1].float(), dim=-1).gather(-1, target).squeeze(-1)
    return [[None, *row] for row in lp.tolist()]
