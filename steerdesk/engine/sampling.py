"""Sampling for a batch of rows that share one prompt: each row's next token, with one draw
of Gumbel noise per step for all rows (coupled sampling), so that rows with the same
distribution pick the same token and any difference between them comes from steering alone."""

from __future__ import annotations

import time
from typing import TYPE_CHECKING

import torch

if TYPE_CHECKING:
    from steerdesk.engine.generation import GenerationRequest


class CoupledSampler:
    """Picks each row's next token; all rows share one draw of noise per step. Each row filters
    its own distribution (top-k, top-p); the noise over the vocabulary stays the same."""

    def __init__(self, request: GenerationRequest, rows: int, vocab: int, device: torch.device,
                 prompt_ids: torch.Tensor):
        self.t = request.temperature
        self.top_p = request.top_p
        self.top_k = request.top_k if 0 < request.top_k < vocab else 0
        self.penalty = request.repetition_penalty
        self.vocab = vocab
        self.generator = None
        if self.t > 0:
            self.generator = torch.Generator(device=device)
            self.generator.manual_seed(request.seed if request.seed is not None
                                       else int(time.time_ns() % (2 ** 31)))
        self.seen = None
        if self.penalty != 1.0:
            self.seen = torch.zeros(rows, vocab, dtype=torch.bool, device=device)
            self.seen[:, prompt_ids[prompt_ids < vocab]] = True

    def __call__(self, logits: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        logits = logits[:, : self.vocab].float()
        logprobs = torch.log_softmax(logits, dim=-1)
        scores = logits
        if self.seen is not None:  # as transformers does it: shrink the scores of seen tokens
            penalised = torch.where(scores > 0, scores / self.penalty, scores * self.penalty)
            scores = torch.where(self.seen, penalised, scores)
        if self.t == 0:
            tokens = scores.argmax(dim=-1)
        else:
            scores = scores / self.t     # then top-k, then top-p, as transformers orders them
            if self.top_k:
                kth = scores.topk(self.top_k, dim=-1).values[:, -1:]
                scores = scores.masked_fill(scores < kth, float("-inf"))   # ties at k stay
            if self.top_p < 1.0:
                scores = _top_p_filter(scores, self.top_p)
            u = torch.rand(self.vocab, generator=self.generator, device=scores.device)
            gumbel = -torch.log(-torch.log(u.clamp(1e-20, 1.0 - 1e-7)))
            tokens = (scores + gumbel).argmax(dim=-1)
        if self.seen is not None:
            self.seen.scatter_(1, tokens.unsqueeze(1), True)
        return tokens, logprobs.gather(1, tokens.unsqueeze(1)).squeeze(1)


def _top_p_filter(scores: torch.Tensor, top_p: float) -> torch.Tensor:
    sorted_scores, order = scores.sort(dim=-1, descending=True)
    cumulative = sorted_scores.softmax(dim=-1).cumsum(dim=-1)
    drop = cumulative - sorted_scores.softmax(dim=-1) >= top_p   # keep the token that crosses p
    sorted_scores = sorted_scores.masked_fill(drop, float("-inf"))
    return torch.full_like(scores, float("-inf")).scatter(-1, order, sorted_scores)
