"""Steering against prompting, on the user's own model: for every prompt and seed, one
generation of the baseline, the preset's steered column and the prompted column (the preset's
prompt equivalent, engine/prompted.py), then one summary per column: the share of texts that
reached the target (a judge decides, text by text) and the mean and median perplexity of the
new tokens under the unsteered model (engine/costs.py). `steerdesk evaluate` prints it."""

from __future__ import annotations

import statistics
from dataclasses import dataclass, field
from typing import Callable, Sequence

from steerdesk.engine.costs import result_metrics
from steerdesk.engine.errors import InputError

# texts -> for each, whether it reached the target (e.g. "is in German")
Judge = Callable[[list[str]], list[bool]]


@dataclass
class Sample:
    prompt: str
    seed: int
    column: str          # "baseline", "steered" or "prompted"
    text: str
    perplexity: float | None
    reached: bool = False


@dataclass
class ColumnSummary:
    column: str
    name: str
    samples: int
    reached: float                     # the share of samples the judge passed
    perplexity_mean: float | None      # over samples with new tokens
    perplexity_median: float | None


@dataclass
class Evaluation:
    columns: list[ColumnSummary]
    samples: list[Sample] = field(default_factory=list)


def read_prompts(path) -> list[str]:
    """One prompt per non-empty line; one line naming the file where it has none."""
    from pathlib import Path

    p = Path(path).expanduser()
    try:
        text = p.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise InputError(f"{p}: no such prompts file", field="prompts") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise InputError(f"{p}: not a readable text file of prompts ({exc})",
                         field="prompts") from None
    prompts = [line.strip() for line in text.splitlines() if line.strip()]
    if not prompts:
        raise InputError(f"{p}: has no prompts (give one per line)", field="prompts")
    return prompts


def summarise(column: str, name: str, samples: Sequence[Sample]) -> ColumnSummary:
    ppl = [s.perplexity for s in samples if s.perplexity is not None]
    return ColumnSummary(column, name, len(samples),
                         sum(s.reached for s in samples) / max(len(samples), 1),
                         statistics.fmean(ppl) if ppl else None,
                         statistics.median(ppl) if ppl else None)


def evaluate(session, spec, prompted: str | None, prompts: Sequence[str], judge: Judge, *,
             seeds: Sequence[int] = (0,), max_new_tokens: int = 28, temperature: float = 0.9,
             chat: bool = False, progress: Callable[[int, int], None] | None = None
             ) -> Evaluation:
    """Every prompt x seed as one generation (baseline, `spec` steered, and the `prompted`
    instruction where given), judged and scored; the summaries in column order."""
    from steerdesk.engine.generation import GenerationRequest, generate

    kinds = ["baseline", "steered"] + (["prompted"] if prompted else [])
    samples: list[Sample] = []
    names: list[str] = []
    total, done = len(prompts) * len(seeds), 0
    for prompt in prompts:
        for seed in seeds:
            request = GenerationRequest(prompt, [spec], max_new_tokens=max_new_tokens,
                                        temperature=temperature, seed=seed, chat=chat,
                                        prompted=prompted)
            result = generate(session, request)
            names = [row.name for row in result.rows]
            for kind, row, m in zip(kinds, result.rows, result_metrics(session, result, [])):
                samples.append(Sample(prompt, seed, kind, row.text, m["perplexity"]))
            done += 1
            if progress:
                progress(done, total)
    verdicts = judge([s.text for s in samples])
    for s, ok in zip(samples, verdicts):
        s.reached = bool(ok)
    columns = [summarise(kind, name, [s for s in samples if s.column == kind])
               for kind, name in zip(kinds, names)]
    return Evaluation(columns, samples)
