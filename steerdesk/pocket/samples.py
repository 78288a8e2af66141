"""Sample continuations per language: a quick look at what the pocket model learnt."""

from __future__ import annotations

from pathlib import Path

import torch

PROMPTS: dict[str, list[str]] = {
    "en": ["The meaning of life is", "A computer is"],
    "de": ["Das Leben ist", "Ein Computer ist"],
    "es": ["La vida es", "El amor es"],
    "it": ["La vita è", "Il computer è"],
    "ru": ["Жизнь - это", "Любовь - это"],
    "pl": ["Życie jest", "Komputer to"],
}


@torch.no_grad()
def sample_continuations(
    model, tokenizer, prompts: dict[str, list[str]] = PROMPTS, max_new_tokens: int = 40, seed: int = 0
) -> dict[str, list[str]]:
    was_training = model.training
    model.eval()
    torch.manual_seed(seed)
    out: dict[str, list[str]] = {}
    for language, texts in prompts.items():
        out[language] = []
        for text in texts:
            inputs = tokenizer(text, return_tensors="pt")
            ids = model.generate(
                **inputs,
                max_new_tokens=max_new_tokens,
                do_sample=True,
                temperature=0.8,
                top_k=40,
                pad_token_id=tokenizer.pad_token_id,
            )
            out[language].append(tokenizer.decode(ids[0], skip_special_tokens=True))
    model.train(was_training)
    return out


def samples_for_metrics(tokenizer_dir: Path):
    """An `after_training` hook for train_model.train: adds {"samples": ...} to metrics.json."""
    from transformers import AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(str(tokenizer_dir))
    return lambda model: {"samples": sample_continuations(model, tokenizer)}
