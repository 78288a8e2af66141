"""What each column costs and what it reaches, computed once the column has finished.

Fluency: the perplexity of the column's generated tokens under the UNSTEERED model. One forward
pass (no hook installed) over prompt + generated tokens; the prompt is context only. With
g_1..g_n the generated tokens and p the unsteered model,

    perplexity = exp( -(1/n) * sum_t log p(g_t | prompt, g_<t) )

A steered column that wanders off what the model would say scores high; the baseline under
greedy decoding scores lowest. Tokens after an end-of-text are not part of the column and are
not scored. Columns with no generated token have no perplexity (None).

Concept reach: the watched feature's activation at the hook, the mean over the column's
generated tokens (read during generation, after steering, as the readout shows it). Where a
classifier is used instead (`steerdesk evaluate`), reach is its score of the text.
"""

from __future__ import annotations

import math
from typing import Sequence

import torch

from steerdesk.engine.session import Session


def token_logprobs(session: Session, prompt_ids: Sequence[int], new_ids: Sequence[int]
                   ) -> list[float]:
    """log p(g_t | prompt, g_<t) under the unsteered model, one per generated token."""
    if not new_ids:
        return []
    ids = torch.tensor([list(prompt_ids) + list(new_ids)], dtype=torch.long,
                       device=session.lm.device)
    with torch.inference_mode():
        logits = session.model(input_ids=ids, use_cache=False).logits[0].float()
    p = len(prompt_ids)
    lp = torch.log_softmax(logits[p - 1:-1], dim=-1)
    target = ids[0, p:].unsqueeze(-1)
    return lp.gather(-1, target).squeeze(-1).tolist()


def perplexity(session: Session, prompt_ids: Sequence[int], new_ids: Sequence[int]
               ) -> float | None:
    lps = token_logprobs(session, prompt_ids, new_ids)
    if not lps:
        return None
    return math.exp(-sum(lps) / len(lps))


def mean_reach(activations: Sequence[Sequence[float]], column: int = 0) -> float | None:
    """Mean over generated tokens of watched feature number `column` (request.watch order)."""
    values = [a[column] for a in activations if len(a) > column]
    return sum(values) / len(values) if values else None


def row_metrics(session: Session, prompt_ids: Sequence[int], row, watch: Sequence[int]
                ) -> dict:
    """{"perplexity", "reach", "reach_feature"} of one finished RowResult."""
    new_ids = [t.token_id for t in row.tokens
               if t.token_id is not None and not t.finished]
    reach = mean_reach([t.activations for t in row.tokens if not t.finished]) if watch else None
    return {"perplexity": perplexity(session, prompt_ids, new_ids),
            "reach": reach, "reach_feature": int(watch[0]) if watch else None}


def row_prompt_ids(prompt_event, row: int) -> list[int]:
    """The prompt row `row` continued: the shared one, or the prompted row's own (with its
    instruction), which is then its perplexity's context."""
    if row == prompt_event.prompted_row:
        return list(prompt_event.prompted_token_ids)
    return list(prompt_event.token_ids)


def result_metrics(session: Session, result, watch: Sequence[int]) -> list[dict]:
    """row_metrics for every row of a GenerationResult, in row order."""
    return [row_metrics(session, row_prompt_ids(result.prompt, r), row, watch)
            for r, row in enumerate(result.rows)]
