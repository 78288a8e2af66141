"""Measuring what steering a pocket feature does: seeded continuations of English prompts, the
share judged to be in a target language, and their perplexity under the unsteered model.

Used by the presets stage (to pick strengths), the report and the causal-effect test."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import torch

from .language_judge import judge

# English prompts the continuations start from. The presets stage sweeps on seeds 100..119;
# the test (tests/pocket/test_language_steering.py) checks seeds 0..19, so the strengths are
# not fitted to the seeds they are tested on.
PROMPTS = ("The meaning of life is", "My computer", "When I was young, I", "The best thing about")
SWEEP_SEEDS = tuple(range(100, 120))
TEST_SEEDS = tuple(range(20))
TEMPERATURE = 0.9
NEW_TOKENS = 28
STRENGTHS = (0.5, 1.0, 2.0, 4.0, 8.0)


@dataclass
class Continuation:
    prompt: str
    seed: int
    text: str
    token_ids: list[int]


def continuations(session, specs: Sequence, seeds: Sequence[int], prompts: Sequence[str] = PROMPTS,
                  *, new_tokens: int = NEW_TOKENS, temperature: float = TEMPERATURE
                  ) -> list[list[Continuation]]:
    """For each seed, prompt `prompts[seed % len(prompts)]`, one batch of baseline + `specs`;
    returns one list per row (row 0 = unsteered, row r = specs[r-1])."""
    from steerdesk.engine.generation import GenerationRequest, generate

    rows: list[list[Continuation]] = [[] for _ in range(len(specs) + 1)]
    for seed in seeds:
        prompt = prompts[seed % len(prompts)]
        result = generate(session, GenerationRequest(
            prompt=prompt, variants=list(specs), max_new_tokens=new_tokens,
            temperature=temperature, seed=seed))
        for r, row in enumerate(result.rows):
            ids = [t.token_id for t in row.tokens if t.token_id is not None]
            rows[r].append(Continuation(prompt, seed, row.text, ids))
    return rows


def language_share(conts: Sequence[Continuation], language: str) -> float:
    return sum(judge(c.text) == language for c in conts) / max(len(conts), 1)


@torch.no_grad()
def perplexity(session, conts: Sequence[Continuation]) -> float:
    """exp(mean negative log-likelihood) of the continuation tokens, prompt given, under the
    model without any steering hook (the coherence cost of the steered text)."""
    model, tok = session.model, session.tokenizer
    total, count = 0.0, 0
    for c in conts:
        if not c.token_ids:
            continue
        prompt_ids = tok(c.prompt, add_special_tokens=True)["input_ids"]
        ids = torch.tensor([list(prompt_ids) + list(c.token_ids)], device=session.lm.device)
        logits = model(input_ids=ids, use_cache=False).logits[0, :-1].float()
        logp = torch.log_softmax(logits, -1)
        targets = ids[0, 1:]
        nll = -logp.gather(-1, targets[:, None])[:, 0]
        cont = nll[len(prompt_ids) - 1:]
        total += float(cont.sum())
        count += len(cont)
    return math.exp(total / count) if count else float("nan")


def language_specificity(sae, acts_by_language: dict[str, torch.Tensor], batch: int = 8192
                         ) -> dict[str, torch.Tensor]:
    """Per feature: mean activation per language (over that language's held-out tokens), as
    `{lang: [d_sae]}` — the basis of the rule that picks a language's feature."""
    means = {}
    with torch.no_grad():
        for lang, acts in acts_by_language.items():
            s = torch.zeros(sae.d_sae, dtype=torch.float64)
            for i in range(0, len(acts), batch):
                s += sae.encode(acts[i: i + batch]).sum(0).double()
            means[lang] = (s / max(len(acts), 1)).float()
    return means


def rank_language_features(means: dict[str, torch.Tensor], language: str, top: int = 3,
                           min_purity: float = 0.8) -> list[dict]:
    """Features ranked for `language`: purity = the language's share of the feature's mean
    activation summed over languages (each language weighs the same); score = purity x mean
    activation on the language. Features below `min_purity` are left out."""
    langs = sorted(means)
    stack = torch.stack([means[lang] for lang in langs])          # [L, d_sae]
    total = stack.sum(0).clamp_min(1e-9)
    purity = means[language] / total
    score = purity * means[language]
    score[purity < min_purity] = 0
    order = torch.argsort(score, descending=True)[:top]
    return [{"index": int(i), "purity": round(float(purity[i]), 4),
             "mean_on_language": round(float(means[language][i]), 4), "score": round(float(score[i]), 4)}
            for i in order if score[i] > 0]


# ---- a topic: computers -------------------------------------------------------------------

COMPUTER_COLLECTIONS = frozenset({"computers", "computer", "linuxpl", "linuxtag", "debian.pl",
                                  "perl", "linux", "debian", "hacker"})
COMPUTER_WORDS = frozenset(["computer", "computers", "program", "programs", "programming", "programmer", "programmers", "software", "hardware", "unix", "linux", "windows", "microsoft", "bug", "bugs", "code", "system", "systems", "hacker", "hackers", "perl", "kernel", "byte", "bytes", "data", "file", "files", "user", "users", "network", "internet", "disk", "memory", "machine", "machines", "debian", "emacs", "vi", "c++", "compiler", "cpu", "mac", "ibm", "pc", "ram", "web", "email", "online", "server", "root", "bit", "bits", "keyboard", "mouse", "screen", "modem", "version", "install", "login"])


def about_computers(text: str) -> bool:
    import re

    words = re.findall(r"[a-z+]+", text.lower())
    return any(w in COMPUTER_WORDS for w in words)


def topic_share(conts: Sequence[Continuation]) -> float:
    return sum(about_computers(c.text) for c in conts) / max(len(conts), 1)


def rank_topic_features(catalog, collections=COMPUTER_COLLECTIONS, top: int = 3,
                        min_share: float = 0.8) -> list[dict]:
    """Features whose catalog top snippets come (>= `min_share` of them) from documents of
    `collections`, the densest first."""
    dens = catalog.densities()
    out = []
    for i in range(catalog.d_sae):
        if dens is None or not dens[i] > 0:
            continue
        snippets = catalog.snippets(i)
        if len(snippets) < 5:
            continue
        hits = sum(((s.document or {}).get("meta", {}).get("collection") in collections)
                   for s in snippets)
        if hits / len(snippets) >= min_share:
            out.append({"index": i, "collection_share": round(hits / len(snippets), 2),
                        "density": float(dens[i])})
    out.sort(key=lambda r: -r["density"])
    return out[:top]
