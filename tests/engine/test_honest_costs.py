"""The cost of a column: the perplexity of its new tokens under the unsteered model."""

import math

import torch

from steerdesk.engine.costs import result_metrics
from steerdesk.engine.generation import GenerationRequest, generate
from steerdesk.engine.steering import FeatureSteer, SteeringSpec

PROMPT = "hello world, the"


def _req(prompt, variants=()):
    return GenerationRequest(prompt, list(variants), max_new_tokens=8, temperature=1.0, seed=3,
                             stop_at_eos=False)


def test_perplexity_is_the_hand_computed_scoring_pass(session):
    spec = SteeringSpec([FeatureSteer(2, 5.0)])
    result = generate(session, _req(PROMPT, [spec]))
    metrics = result_metrics(session, result, [])
    for row, m in zip(result.rows, metrics):
        ids = list(result.prompt.token_ids) + [t.token_id for t in row.tokens]
        with torch.no_grad():
            logits = session.model(input_ids=torch.tensor([ids])).logits[0]
        p = len(result.prompt.token_ids)
        lp = [float(torch.log_softmax(logits[i - 1], -1)[ids[i]]) for i in range(p, len(ids))]
        assert math.isclose(m["perplexity"], math.exp(-sum(lp) / len(lp)), rel_tol=1e-4)
