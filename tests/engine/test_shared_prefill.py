"""The prompt pass runs one row up to the hooked module and widens there (generation._prefill).
For every family and hook side it must give what the plain pass with every row gives."""

import pytest

from steerdesk.engine import generation
from steerdesk.engine.generation import GenerationRequest, generate
from steerdesk.engine.models import load_model
from steerdesk.engine.sae import load_sae
from steerdesk.engine.session import attach_sae
from steerdesk.engine.steering import FeatureSteer, SteeringSpec
from steerdesk.testing.tiny import FAMILIES, make_model, make_sae


def _plain_prefill(model, prompt, rows, shared, widen_at=None):
    return _ORIGINAL(model, prompt, rows, False, None)


_ORIGINAL = generation._prefill


CASES = ([(f, "blocks.1.hook_resid_post") for f in FAMILIES]
         + [(f, h) for f in ("llama", "gpt2", "gemma2")
            for h in ("blocks.1.hook_resid_pre", "blocks.1.hook_mlp_out")])


@pytest.mark.parametrize("family, hook", CASES)
def test_shared_prompt_pass_equals_the_plain_one(tmp_path, monkeypatch, family, hook):
    lm = load_model(make_model(tmp_path / "m", family, d=32, layers=3), device="cpu")
    sae = load_sae(make_sae(tmp_path / "s", d_in=32, d_sae=48, hook=hook))
    session = attach_sae(lm, sae)
    variants = [SteeringSpec([FeatureSteer(3, 5.0)]),
                SteeringSpec([FeatureSteer(4, 2.0, "clamp"), FeatureSteer(6, -3.0)])]
    results = []
    for positions in ("all", "generated"):
        req = GenerationRequest("the quick brown", variants, max_new_tokens=5,
                                positions=positions, watch=[3, 4])
        shared = generate(session, req)
        with monkeypatch.context() as m:
            m.setattr(generation, "_prefill", _plain_prefill)
            plain = generate(session, req)
        for a, b in zip(shared.rows, plain.rows):
            assert [t.token_id for t in a.tokens] == [t.token_id for t in b.tokens]
            assert [t.logprob for t in a.tokens] == pytest.approx(
                [t.logprob for t in b.tokens], abs=1e-4)
            flat = [v for pos in a.prompt_activations for v in pos]
            assert flat == pytest.approx([v for pos in b.prompt_activations for v in pos], abs=1e-4)
        results.append(shared)
    # The steering is visible, so the comparison above compared something.
    assert results[0].rows[1].text != results[0].rows[0].text or \
        results[0].rows[1].tokens[0].logprob != results[0].rows[0].tokens[0].logprob
