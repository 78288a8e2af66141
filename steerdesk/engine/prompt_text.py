"""A prompt as the token ids fed to the model (chat template or not), and new tokens as text
pieces that join to the decoded whole. Used by generation.py and the prompted row."""

from __future__ import annotations


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
