"""Byte-level BPE tokenizer for the pocket model, saved as a Hugging Face fast tokenizer.

`<|endoftext|>` is the only special token: bos, eos and pad at once. The post-processor
prepends it to every encoding, so `tokenizer("Hello")` is `[bos, ...]` both here and in
transformers, and documents concatenated for training are separated by it.
"""

from __future__ import annotations

import json
from collections import defaultdict
from pathlib import Path
from typing import Iterable, Iterator

from tokenizers import Tokenizer, decoders, models, pre_tokenizers, processors, trainers

from .corpus import Document

EOT = "<|endoftext|>"
DEFAULT_VOCAB_SIZE = 8192


def balanced_texts(docs: Iterable[Document]) -> Iterator[str]:
    """Equal characters per language (the smallest language's total), so that merges are
    not spent mostly on the biggest collections and Cyrillic gets words, not byte pairs."""
    by_language: dict[str, list[str]] = defaultdict(list)
    for doc in docs:
        by_language[doc.language].append(doc.text)
    budget = min(sum(len(t) for t in texts) for texts in by_language.values())
    for texts in by_language.values():
        used = 0
        for text in texts:
            if used >= budget:
                break
            used += len(text)
            yield text


def train_bpe(texts: Iterable[str], vocab_size: int = DEFAULT_VOCAB_SIZE) -> Tokenizer:
    tokenizer = Tokenizer(models.BPE())
    tokenizer.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tokenizer.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=vocab_size,
        special_tokens=[EOT],
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        min_frequency=2,
        show_progress=False,
    )
    tokenizer.train_from_iterator(texts, trainer=trainer)
    eot_id = tokenizer.token_to_id(EOT)
    tokenizer.post_processor = processors.TemplateProcessing(
        single=f"{EOT} $A", pair=f"{EOT} $A {EOT} $B", special_tokens=[(EOT, eot_id)]
    )
    return tokenizer


def save_hf_tokenizer(tokenizer: Tokenizer, out_dir: Path, model_max_length: int) -> None:
    """Write tokenizer.json, tokenizer_config.json and special_tokens_map.json."""
    from transformers import PreTrainedTokenizerFast

    hf = PreTrainedTokenizerFast(
        tokenizer_object=tokenizer,
        bos_token=EOT,
        eos_token=EOT,
        unk_token=EOT,
        pad_token=EOT,
        model_max_length=model_max_length,
        clean_up_tokenization_spaces=False,
    )
    out_dir.mkdir(parents=True, exist_ok=True)
    hf.save_pretrained(str(out_dir))
    _make_loadable_by_transformers_4(out_dir)


def _make_loadable_by_transformers_4(out_dir: Path) -> None:
    # transformers 5 names the class "TokenizersBackend" and drops special_tokens_map.json;
    # 4.x needs "PreTrainedTokenizerFast" (which 5 still resolves) and reads the map.
    config_path = out_dir / "tokenizer_config.json"
    config = json.loads(config_path.read_text())
    config["tokenizer_class"] = "PreTrainedTokenizerFast"
    config_path.write_text(json.dumps(config, indent=2) + "\n")
    special = {name: EOT for name in ("bos_token", "eos_token", "unk_token", "pad_token")}
    (out_dir / "special_tokens_map.json").write_text(json.dumps(special, indent=2) + "\n")


def load_tokenizer(path: Path) -> Tokenizer:
    """The raw `tokenizers` object (fast batch encoding for training) from a saved folder."""
    file = path / "tokenizer.json" if path.is_dir() else path
    if not file.is_file():
        raise FileNotFoundError(f"{file}: no tokenizer.json (run the tokenizer stage first)")
    return Tokenizer.from_file(str(file))
