"""The compiled decode path against the eager one: same tokens, log-probs and activations
within float tolerance, for add, clamp and ablate with the live readout; and no recompiling
when strengths, features or the number of variants change within the decoder's capacity.

One test compiles with inductor (the real C++ build; slow the first time, then torch's cache
under the temp folder serves it). The others trace with Dynamo's "eager" backend: the same
graph capture, guards and recompilation rules, without generating code.
"""

import os
import tempfile
from pathlib import Path

import pytest
import torch

# Not the user's cache: a folder of its own under the temp folder, kept between test runs.
os.environ["TORCHINDUCTOR_CACHE_DIR"] = str(Path(tempfile.gettempdir()) / "steerdesk-test-inductor")

from steerdesk.engine import compiled  # noqa: E402
from steerdesk.engine.compiled import registry, runner  # noqa: E402
from steerdesk.engine.generation import GenerationRequest, generate  # noqa: E402
from steerdesk.engine.steering import FeatureSteer, SteeringSpec  # noqa: E402

PROMPT = "hello world, the"
needs_compiler = pytest.mark.skipif(compiled.unavailable_reason("cpu") is not None,
                                    reason=str(compiled.unavailable_reason("cpu")))


@pytest.fixture
def backend(monkeypatch):
    """Dynamo's eager backend (tracing without codegen) unless a test says otherwise."""
    monkeypatch.setattr(registry.settings, "backend", "eager")
    return registry.settings


def _run(session, variants, compile_, **kw):
    kw.setdefault("max_new_tokens", 10)
    return generate(session, GenerationRequest(PROMPT, variants, stop_at_eos=False,
                                               compile=compile_, **kw))


def _assert_same(eager, comp, tol=1e-4):
    assert comp.done.decode == "compiled"
    assert eager.done.decode == "eager"
    assert [r.name for r in comp.rows] == [r.name for r in eager.rows]
    for re_, rc in zip(eager.rows, comp.rows):
        assert [t.token_id for t in rc.tokens] == [t.token_id for t in re_.tokens], re_.name
        assert rc.text == re_.text
        for te, tc in zip(re_.tokens, rc.tokens):
            assert tc.logprob == pytest.approx(te.logprob, abs=tol)
            assert tc.activations == pytest.approx(te.activations, abs=tol)
            assert [i for i, _ in tc.top_features] == [i for i, _ in te.top_features]
            assert [v for _, v in tc.top_features] == pytest.approx(
                [v for _, v in te.top_features], abs=tol)


def _decoder(session, rows):
    found = [d for d in compiled.decoders(session) if d.shape.slots.rows == rows]
    assert len(found) == 1
    return found[0]


@pytest.mark.slow
@needs_compiler
def test_inductor_step_equals_eager_and_never_recompiles(session, monkeypatch):
    monkeypatch.setattr(registry.settings, "backend", "inductor")
    watch = {"watch": [2, 5, 7], "top_k_features": 4}
    first = [SteeringSpec([FeatureSteer(2, 5.0)]),
             SteeringSpec([FeatureSteer(5, 3.0, "clamp")]),
             SteeringSpec([FeatureSteer(7, 0.0, "ablate"), FeatureSteer(2, -2.0)])]
    _assert_same(_run(session, first, False, **watch), _run(session, first, True, **watch))
    dec = _decoder(session, 5)
    assert dec.compiles == 1 and dec.ready and dec.failed is None
    assert dec.shape.slots.clamp == 8 and dec.shape.slots.top_k == 4

    graphs = torch._dynamo.utils.counters["stats"]["unique_graphs"]
    # Other strengths, other features (3 clamped, 3 other watched), 4 variants instead of 3.
    second = [SteeringSpec([FeatureSteer(11, -4.0), FeatureSteer(3, 2.5)]),
              SteeringSpec([FeatureSteer(1, 6.0, "clamp"), FeatureSteer(9, 1.0, "clamp")]),
              SteeringSpec([FeatureSteer(11, 0.0, "ablate")]),
              SteeringSpec([FeatureSteer(2, 0.0)])]   # strength 0: nothing added, same graph
    watch2 = {"watch": [1, 9, 40], "top_k_features": 4}
    _assert_same(_run(session, second, False, **watch2), _run(session, second, True, **watch2))
    assert _decoder(session, 5) is dec
    assert dec.compiles == 1
    assert torch._dynamo.utils.counters["stats"]["unique_graphs"] == graphs


def test_sampling_and_generated_positions_without_readout(session, backend):
    variants = [SteeringSpec([FeatureSteer(4, 6.0)])]
    kw = {"temperature": 0.9, "top_p": 0.9, "repetition_penalty": 1.3, "seed": 3,
          "positions": "generated"}
    messages = []
    report = compiled.prepare(session, GenerationRequest(PROMPT, variants, max_new_tokens=10,
                                                         **kw),
                              progress=lambda f, m: messages.append(m))
    assert report.compiled and report.shape.slots.rows == 2 and not report.shape.slots.reads
    assert messages[0].startswith("Compiling the decode step (2 rows")
    assert messages[-1].startswith("Compiled the decode step in")
    _assert_same(_run(session, variants, False, **kw), _run(session, variants, True, **kw))
    # prepare compiled it; the generation reused it, and a second prepare does nothing
    assert _decoder(session, 2).compiles == 1
    again = compiled.prepare(session, GenerationRequest(PROMPT, variants, max_new_tokens=10, **kw))
    assert again.compiled and again.seconds is None and again.compiles == 1


def test_baseline_only_runs_the_step_without_a_hook(session, backend):
    _assert_same(_run(session, [], False), _run(session, [], True))
    dec = _decoder(session, 1)
    assert not dec.shape.hooked and dec.buffers is None


def test_topk_sae_with_layer_norm_clamp_and_watched_readout(session, backend):
    """TopK needs a full encode for a clamp; layer-norm SAEs decode per token (the clamp's
    decoder rows depend on the token); the watched readout pins clamped features."""
    from steerdesk.testing.tiny import make_sae_tensors

    from steerdesk.engine.sae.base import SAE, SAEConfig
    from steerdesk.engine.session import attach_sae

    sae = SAE(SAEConfig(architecture="topk", d_in=32, d_sae=64, k=6,
                        normalize_activations="layer_norm", hook_name="blocks.1.hook_resid_post"),
              make_sae_tensors(32, 64, "topk", seed=5))
    topk = attach_sae(session.lm, sae)
    variants = [SteeringSpec([FeatureSteer(3, 4.0, "clamp"), FeatureSteer(8, 2.0)]),
                SteeringSpec([FeatureSteer(3, 0.0, "ablate")])]
    kw = {"watch": [3, 8, 20]}
    _assert_same(_run(topk, variants, False, **kw), _run(topk, variants, True, **kw))
    eager = _run(topk, variants, False, **kw)
    assert all(t.activations[0] == pytest.approx(4.0) for t in eager.rows[1].tokens)


def test_falls_back_with_one_line_when_compiling_is_unavailable(session, backend, monkeypatch):
    monkeypatch.setattr(runner, "unavailable_reason", lambda device: "no C++ compiler found")
    variants = [SteeringSpec([FeatureSteer(2, 5.0)])]
    result = _run(session, variants, True)
    assert result.done.decode == "eager: no C++ compiler found"
    assert result.rows[1].text == _run(session, variants, False).rows[1].text
    report = compiled.prepare(session, GenerationRequest(PROMPT, variants))
    assert not report.compiled and report.reason == "no C++ compiler found"


def test_a_failing_compiler_leaves_the_step_eager_and_says_why(session, backend, monkeypatch):
    from steerdesk.engine.compiled import decoder

    def boom(self, gm, example_inputs):
        raise RuntimeError("the compiler broke\nsecond line")

    monkeypatch.setattr(decoder._CountingBackend, "__call__", boom)
    torch._dynamo.reset()   # no graph of an earlier test may serve this one
    variants = [SteeringSpec([FeatureSteer(6, -3.0)]), SteeringSpec([FeatureSteer(6, 3.0)])]
    result = _run(session, variants, True, watch=[6])
    assert result.done.decode == ("eager: compiling the decode step failed "
                                  "(RuntimeError: the compiler broke)")
    eager = _run(session, variants, False, watch=[6])
    for re_, rc in zip(eager.rows, result.rows):
        assert [t.token_id for t in rc.tokens] == [t.token_id for t in re_.tokens]
        for te, tc in zip(re_.tokens, rc.tokens):
            assert tc.activations == pytest.approx(te.activations, abs=1e-5)
