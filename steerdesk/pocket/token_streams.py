"""Tokenized corpus as one packed stream per language, and language-balanced window sampling.

Every document starts with `<|endoftext|>` (added by the tokenizer's post-processor), so the
packed stream doubles as document separators. Sampling picks the language first (uniformly
by default), then a random window in that language's stream: small languages are upsampled
without duplicating anything on disk.
"""

from __future__ import annotations

from collections import defaultdict
from pathlib import Path
from typing import Iterable, Mapping

import numpy as np
import torch
from tokenizers import Tokenizer

from .corpus import Document


def encode_by_language(docs: Iterable[Document], tokenizer: Tokenizer) -> dict[str, np.ndarray]:
    texts: dict[str, list[str]] = defaultdict(list)
    for doc in docs:
        texts[doc.language].append(doc.text)
    if tokenizer.get_vocab_size() > np.iinfo(np.uint16).max:
        raise ValueError(f"vocab of {tokenizer.get_vocab_size()} does not fit uint16 streams")
    streams = {}
    for language, batch in sorted(texts.items()):
        ids = [e.ids for e in tokenizer.encode_batch(batch)]
        streams[language] = np.fromiter(
            (i for seq in ids for i in seq), dtype=np.uint16, count=sum(len(s) for s in ids)
        )
    return streams


def save_streams(streams: Mapping[str, np.ndarray], path: Path) -> None:
    tmp = path.with_name(path.name + ".tmp.npz")
    np.savez(tmp, **streams)
    tmp.replace(path)


def load_streams(path: Path) -> dict[str, np.ndarray]:
    if not path.is_file():
        raise FileNotFoundError(f"{path}: no token streams (run the tokenize step first)")
    with np.load(path) as data:
        return {name: data[name] for name in data.files}


class BalancedWindowSampler:
    """Random windows of `length` tokens, the language drawn by `weights` (uniform default)."""

    def __init__(
        self,
        streams: Mapping[str, np.ndarray],
        length: int,
        weights: Mapping[str, float] | None = None,
        seed: int = 0,
    ):
        short = [lang for lang, s in streams.items() if len(s) <= length]
        if short:
            raise ValueError(f"streams too short for windows of {length} tokens: {short}")
        self.languages = sorted(streams)
        self.streams = {lang: torch.from_numpy(streams[lang].astype(np.int64)) for lang in self.languages}
        w = np.array([(weights or {}).get(lang, 1.0) for lang in self.languages], dtype=np.float64)
        self.probabilities = w / w.sum()
        self.length = length
        self.rng = np.random.default_rng(seed)

    def sample(self, batch_size: int) -> torch.Tensor:
        picks = self.rng.choice(len(self.languages), size=batch_size, p=self.probabilities)
        rows = []
        for pick in picks:
            stream = self.streams[self.languages[pick]]
            start = int(self.rng.integers(0, len(stream) - self.length + 1))
            rows.append(stream[start : start + self.length])
        return torch.stack(rows)


def fixed_windows(stream: np.ndarray, length: int, max_windows: int) -> torch.Tensor:
    """Non-overlapping windows from the start of a stream, for a repeatable held-out loss."""
    count = min(max_windows, len(stream) // length)
    if count == 0:
        raise ValueError(f"held-out stream of {len(stream)} tokens has no window of {length}")
    data = torch.from_numpy(stream[: count * length].astype(np.int64))
    return data.view(count, length)
