"""The sampler against hand-made distributions: top-p keeps exactly the nucleus, temperature
reshapes the draw frequencies, the repetition penalty shrinks seen tokens as transformers
does, and seed=None really varies."""

import math

import pytest
import torch

from steerdesk.engine.generation import (
    CoupledSampler,
    GenerationRequest,
    _top_p_filter,
    generate,
)

PROBS = [0.5, 0.25, 0.15, 0.1]


def _sampler(rows=1, vocab=4, prompt=(), **request):
    req = GenerationRequest("x", **{"temperature": 1.0, "seed": 7, **request})
    return CoupledSampler(req, rows, vocab, torch.device("cpu"),
                          torch.tensor(list(prompt), dtype=torch.long))


def _logits(probs, rows=1):
    return torch.log(torch.tensor(probs)).expand(rows, -1).clone()


def _frequencies(sampler, logits, n):
    counts = torch.zeros(logits.shape[-1])
    for _ in range(n):
        tokens, _ = sampler(logits)
        counts[tokens[0]] += 1
    return (counts / n).tolist()


@pytest.mark.parametrize("top_p, kept", [(0.4, [0]), (0.7, [0, 1]), (0.75, [0, 1]),
                                         (0.76, [0, 1, 2]), (1.0, [0, 1, 2, 3])])
def test_top_p_keeps_the_smallest_set_whose_mass_reaches_p(top_p, kept):
    scores = _top_p_filter(_logits(PROBS), top_p)
    assert torch.isfinite(scores[0]).nonzero().flatten().tolist() == kept
    assert scores[0, kept].tolist() == pytest.approx(_logits(PROBS)[0, kept].tolist())


def test_top_p_works_row_by_row_on_shuffled_vocabularies():
    logits = torch.log(torch.tensor([[0.1, 0.6, 0.05, 0.25], [0.3, 0.3, 0.3, 0.1]]))
    scores = _top_p_filter(logits, 0.8)
    assert torch.isfinite(scores).tolist() == [[False, True, False, True],
                                               [True, True, True, False]]


def test_sampling_with_top_p_draws_only_the_nucleus_in_proportion():
    freq = _frequencies(_sampler(top_p=0.7), _logits(PROBS), 3000)
    assert freq[2] == freq[3] == 0
    assert freq[0] == pytest.approx(0.5 / 0.75, abs=0.05)


@pytest.mark.parametrize("t", [0.5, 1.0, 2.0])
def test_temperature_reshapes_the_draws_as_softmax_of_logits_over_t(t):
    logits = torch.tensor([[1.0, 0.0, -1.0]])
    freq = _frequencies(_sampler(vocab=3, temperature=t), logits, 3000)
    want = torch.softmax(logits[0] / t, -1).tolist()
    assert freq == pytest.approx(want, abs=0.04)


def test_greedy_takes_the_argmax_whatever_the_seed():
    logits = torch.tensor([[0.1, 2.0, 1.9, -3.0]])
    for seed in (0, 1, None):
        tokens, logprobs = _sampler(temperature=0.0, seed=seed)(logits)
        assert tokens.tolist() == [1]
        assert logprobs.tolist() == pytest.approx([float(torch.log_softmax(logits, -1)[0, 1])])


def test_rows_with_one_distribution_draw_the_same_token_every_step():
    sampler = _sampler(rows=3)
    logits = torch.cat([_logits(PROBS, 2), _logits([0.05, 0.05, 0.05, 0.85])])
    picks = [sampler(logits)[0].tolist() for _ in range(400)]
    assert all(a == b for a, b, _ in picks)
    # The third row draws from its own distribution.
    assert sum(c == 3 for _, _, c in picks) / 400 == pytest.approx(0.85, abs=0.06)
    assert sum(a == 3 for a, _, _ in picks) / 400 == pytest.approx(0.1, abs=0.05)


def test_the_logprob_is_under_the_rows_own_unfiltered_distribution():
    sampler = _sampler(top_p=0.7, temperature=0.5, repetition_penalty=3.0, prompt=[0])
    tokens, logprobs = sampler(_logits(PROBS))
    assert logprobs.tolist() == pytest.approx([math.log(PROBS[tokens[0]])], abs=1e-5)


@pytest.mark.parametrize("logits, prompt, penalty, pick", [
    ([2.0, 1.5, -1.0], [0], 2.0, 1),      # seen and positive: 2.0 / 2 = 1.0 < 1.5
    ([2.0, 1.5, -1.0], [0], 1.2, 0),      # 2.0 / 1.2 = 1.67 > 1.5: still the best
    ([-0.5, -0.8, -3.0], [0], 2.0, 1),    # seen and negative: -0.5 * 2 = -1.0 < -0.8
    ([2.0, 1.5, -1.0], [1], 2.0, 0),      # the unseen best is left alone
    ([1.0, 1.5, -1.0], [1], 0.5, 1),      # a penalty below 1 favours seen tokens
])
def test_repetition_penalty_by_hand(logits, prompt, penalty, pick):
    sampler = _sampler(vocab=3, temperature=0.0, repetition_penalty=penalty, prompt=prompt)
    assert sampler(torch.tensor([logits]))[0].tolist() == [pick]


def test_each_rows_picks_become_seen_for_that_row_only():
    sampler = _sampler(rows=2, vocab=3, temperature=0.0, repetition_penalty=4.0)
    logits = torch.tensor([[3.0, 2.0, 1.0], [1.0, 2.0, 3.0]])
    assert sampler(logits)[0].tolist() == [0, 2]
    # Row 0 has now seen token 0 (3.0 / 4 < 2.0), row 1 token 2 (3.0 / 4 < 2.0).
    assert sampler(logits)[0].tolist() == [1, 1]
    assert sampler(logits)[0].tolist() == [2, 0]


def test_the_penalty_applies_before_the_temperature():
    # Seen token 0: 2.0 / 4 = 0.5 against 1.0; at t=0.25 that is softmax([2, 4]) ~ [0.12, 0.88].
    sampler = _sampler(vocab=2, temperature=0.25, repetition_penalty=4.0, prompt=[0])
    counts = [0, 0]
    for _ in range(1500):
        sampler.seen[:] = torch.tensor([True, False])  # keep the draws independent
        counts[sampler(torch.tensor([[2.0, 1.0]]))[0].item()] += 1
    assert counts[0] / 1500 == pytest.approx(float(torch.softmax(torch.tensor([2.0, 4.0]), 0)[0]),
                                             abs=0.04)


def test_seed_none_gives_a_fresh_draw_and_a_seed_repeats():
    flat = torch.zeros(1, 50)
    runs = {}
    for name, seed in (("a", None), ("b", None), ("c", 11), ("d", 11)):
        sampler = _sampler(vocab=50, seed=seed)
        runs[name] = [sampler(flat)[0].item() for _ in range(30)]
    assert runs["a"] != runs["b"]
    assert runs["c"] == runs["d"]


def test_a_generation_with_seed_none_samples(session):
    def run():
        return generate(session, GenerationRequest("the quick", [], max_new_tokens=12,
                                                   temperature=5.0, seed=None, stop_at_eos=False))
    a, b = run(), run()
    assert len(a.rows[0].tokens) == 12
    assert [t.token_id for t in a.rows[0].tokens] != [t.token_id for t in b.rows[0].tokens]
