"""Sampling top-k in the coupled sampler, on hand-made distributions, and the request's checks."""

import math

import pytest
import torch

from steerdesk.engine.errors import InputError
from steerdesk.engine.generation import MAX_NEW_TOKENS, CoupledSampler, GenerationRequest

# A hand-made distribution over 5 tokens: p = 0.5, 0.3, 0.12, 0.05, 0.03.
P = torch.tensor([0.5, 0.3, 0.12, 0.05, 0.03])
LOGITS = P.log()


def _sampler(rows=1, **request) -> CoupledSampler:
    req = GenerationRequest("x", temperature=request.pop("temperature", 1.0), **request)
    return CoupledSampler(req, rows, vocab=5, device=torch.device("cpu"),
                          prompt_ids=torch.tensor([0]))


def _draws(sampler, logits, n=4000):
    return torch.stack([sampler(logits)[0] for _ in range(n)])   # [n, rows]


def test_top_k_samples_the_k_likeliest_renormalised():
    draws = _draws(_sampler(top_k=2, seed=11), LOGITS.unsqueeze(0))[:, 0]
    counts = torch.bincount(draws, minlength=5).float() / len(draws)
    assert counts[2:].sum() == 0                       # nothing outside the top 2 is drawn
    # within them, as the renormalised distribution says: 0.5 / 0.8 and 0.3 / 0.8
    assert counts[0] == pytest.approx(0.625, abs=0.03)
    assert counts[1] == pytest.approx(0.375, abs=0.03)


def test_without_top_k_the_tail_is_drawn_at_its_rate():
    draws = _draws(_sampler(seed=11), LOGITS.unsqueeze(0))[:, 0]
    counts = torch.bincount(draws, minlength=5).float() / len(draws)
    assert counts.tolist() == pytest.approx(P.tolist(), abs=0.03)


def test_top_k_one_is_greedy_and_ties_at_k_are_kept():
    assert set(_draws(_sampler(top_k=1, seed=3), LOGITS.unsqueeze(0), 300)[:, 0].tolist()) == {0}
    tied = torch.tensor([[1.0, 2.0, 2.0, 0.0, -1.0]])   # k=1 with a tie keeps both, as
    draws = _draws(_sampler(top_k=1, seed=3), tied, 400)[:, 0]   # transformers' TopK does
    assert set(draws.tolist()) == {1, 2}


def test_rows_stay_coupled_under_top_k():
    """Two rows whose distributions differ only below the k-th token draw the same token at
    every step: the filter is per row, the noise is shared."""
    other = LOGITS.clone()
    other[3:] = torch.tensor([-1.5, -9.0])             # another tail below log 0.3: same top 2
    draws = _draws(_sampler(rows=2, top_k=2, seed=5), torch.stack([LOGITS, other]), 1000)
    assert torch.equal(draws[:, 0], draws[:, 1])
    # without the filter the tails differ and so, sometimes, do the draws
    free = _draws(_sampler(rows=2, seed=5), torch.stack([LOGITS, other]), 1000)
    assert not torch.equal(free[:, 0], free[:, 1])


def test_top_k_filter_is_transformers_top_k_warper():
    from transformers.generation.logits_process import TopKLogitsWarper

    torch.manual_seed(0)
    scores = torch.randn(3, 50)
    ours = scores.masked_fill(scores < scores.topk(7, dim=-1).values[:, -1:], float("-inf"))
    theirs = TopKLogitsWarper(top_k=7)(torch.zeros(3, 1, dtype=torch.long), scores.clone())
    assert torch.equal(ours, theirs)


def test_the_log_prob_reported_is_the_unfiltered_one():
    tokens, logprobs = _sampler(top_k=2, seed=1)(LOGITS.unsqueeze(0))
    assert float(logprobs[0]) == pytest.approx(math.log(float(P[int(tokens[0])])), abs=1e-6)


@pytest.mark.parametrize("field, value", [
    ("max_new_tokens", -1), ("max_new_tokens", MAX_NEW_TOKENS + 1), ("max_new_tokens", 2.5),
    ("temperature", float("nan")), ("temperature", float("inf")), ("temperature", -0.1),
    ("top_p", 0.0), ("top_p", 1.5), ("top_p", float("nan")),
    ("top_k", -1), ("repetition_penalty", 0.0), ("repetition_penalty", float("inf")),
    ("repetition_penalty", float("nan")), ("top_k_features", -1), ("seed", -1),
    ("seed", 2 ** 64), ("watch", [3, -2]), ("temperature", True),
])
def test_every_bad_request_field_is_one_sentence_naming_it(field, value):
    with pytest.raises(InputError) as info:
        GenerationRequest("x", **{field: value}).validate()
    assert info.value.field == field
    assert "\n" not in str(info.value) and "must be" in str(info.value)


def test_good_edges_pass():
    GenerationRequest("x", max_new_tokens=MAX_NEW_TOKENS, temperature=0, top_p=1.0, top_k=0,
                      seed=None, repetition_penalty=1e-3).validate()
