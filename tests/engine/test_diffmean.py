"""Steering vectors from examples (DiffMean), checked against hand computations."""

import json

import pytest
import torch
from hooking import module_hook

from steerdesk.engine.diffmean import (SteeringVector, build_vector, load_vector, save_vector,
                                       vector_from_json)
from steerdesk.engine.errors import InputError
from steerdesk.engine.generation import GenerationRequest, generate
from steerdesk.engine.presets import (Preset, PresetFeature, PresetVector, load_preset,
                                      save_preset)
from steerdesk.engine.steering import FeatureSteer, SteeringHook, SteeringSpec, VectorSteer

A = ["the cat sat on the mat", "a cat and a dog"]
B = ["numbers one two three", "seven eight"]


def _hand_rows(session, texts):
    """Each text's activation at the hook block's output, by a plain torch forward hook, with
    the BOS position (the tokenizer's first token) left out."""
    rows = []
    for text in texts:
        ids = session.tokenizer(text)["input_ids"]
        assert ids[0] == session.tokenizer.bos_token_id   # the tiny tokenizer adds a BOS
        got = []
        with module_hook(session.hook.module, lambda m, a, out: got.append(
                (out[0] if isinstance(out, tuple) else out).detach().clone())), torch.no_grad():
            session.model(input_ids=torch.tensor([ids]), use_cache=False)
        rows.append(got[0][0, 1:].float())
    return torch.cat(rows)


def test_vector_is_the_hand_computed_mean_difference_and_typical_the_hand_rms(session):
    v = build_vector(session, A, B, name="cats")
    ha, hb = _hand_rows(session, A), _hand_rows(session, B)
    want = ha.mean(0) - hb.mean(0)     # over all tokens of all texts, not per text
    assert torch.allclose(torch.tensor(v.direction), want, atol=1e-5)
    unit = want / want.norm()
    rms = float((torch.cat([ha, hb]) @ unit).pow(2).mean().sqrt())
    assert v.typical == pytest.approx(rms, rel=1e-5)
    assert v.n_tokens == (ha.shape[0], hb.shape[0])
    assert (v.name, v.hook, v.d_model) == ("cats", session.hook.name, 32)


def test_per_text_means_would_differ_so_the_token_mean_is_checked(session):
    # the two A texts have different lengths: a mean of per-text means is another vector
    ha = [_hand_rows(session, [t]) for t in A]
    per_text = torch.stack([h.mean(0) for h in ha]).mean(0)
    v = build_vector(session, A, B)
    hb = _hand_rows(session, B)
    assert not torch.allclose(torch.tensor(v.direction), per_text - hb.mean(0), atol=1e-4)


def test_strength_adds_exactly_s_typical_unit_at_the_hook(session):
    v = build_vector(session, A, B, name="cats")
    s = 2.5
    before, after = [], []
    nxt = session.model.model.layers[session.hook.layer + 1]
    with module_hook(session.hook.module, lambda m, a, out: before.append(
            (out[0] if isinstance(out, tuple) else out).clone()), prepend=True), \
            module_hook(nxt, lambda m, a, k: after.append(
                (a[0] if a else k["hidden_states"]).clone()), pre=True, with_kwargs=True):
        generate(session, GenerationRequest("the cat", [SteeringSpec(vectors=[VectorSteer(v, s)])],
                                            max_new_tokens=3))
    d = torch.tensor(v.direction)
    expected_add = s * v.typical * d / d.norm()
    assert len(before) == len(after) == 3
    for h_in, h_out in zip(before, after):
        assert torch.allclose(h_out[1] - h_in[1], expected_add.expand_as(h_in[1]), atol=1e-5)
        assert torch.equal(h_out[0], h_in[0])     # the baseline row is untouched


def test_vectors_and_features_sum_per_row_in_one_hook(session):
    v = build_vector(session, A, B)
    specs = [SteeringSpec([FeatureSteer(3, 2.0)], vectors=[VectorSteer(v, 1.0)]),
             SteeringSpec(vectors=[VectorSteer(v, -0.5), VectorSteer(v, 2.0)])]
    hook = SteeringHook(session.sae, specs)
    unit = torch.tensor(v.direction) / torch.tensor(v.direction).norm()
    want = torch.stack([torch.zeros(32), 2.0 * session.sae.W_dec[3] + v.typical * unit,
                        1.5 * v.typical * unit])
    assert torch.allclose(hook.add_vec[:, 0], want, atol=1e-5)
    # positions="generated": the prompt's pass is not steered
    late = SteeringHook(session.sae, specs, positions="generated")
    h = torch.zeros(3, 4, 32)
    assert late(h) is None
    late.in_prefill = False
    assert torch.allclose(late(h)[:, 0], want, atol=1e-5)


def test_a_large_strength_changes_the_text(session):
    v = build_vector(session, A, B)
    result = generate(session, GenerationRequest(
        "the cat", [SteeringSpec(vectors=[VectorSteer(v, 40.0)])], max_new_tokens=8))
    assert result.rows[1].text != result.rows[0].text
    assert result.prompt.row_names[1] == f"vector {v.name} +40.00x typical"


def test_another_width_is_one_input_error(session):
    v = SteeringVector("x", (1.0, 2.0), 1.0)
    with pytest.raises(InputError, match="d_model 2.*32 wide"):
        SteeringHook(session.sae, [SteeringSpec(vectors=[VectorSteer(v, 1.0)])])


def test_sets_without_a_difference_or_text_are_refused(session):
    with pytest.raises(InputError, match="same mean"):
        build_vector(session, ["the cat"], ["the cat"])
    with pytest.raises(InputError, match="each set"):
        build_vector(session, ["  "], B)


def test_file_and_preset_round_trip(session, tmp_path):
    v = build_vector(session, A, B, name="cats")
    assert load_vector(save_vector(v, tmp_path / "cats.json")) == v
    preset = Preset("p", "", "raw", [PresetFeature(3, 1.0)],
                    vectors=[PresetVector(v, 1.5), PresetVector(v, -2.0, enabled=False)])
    back = load_preset(save_preset(preset, tmp_path / "p.json"))
    assert back == preset
    spec = back.to_spec()
    assert [(x.vector, x.strength) for x in spec.vectors] == [(v, 1.5)]   # disabled: not applied


def test_old_presets_without_vectors_stay_valid(tmp_path):
    path = tmp_path / "old.json"
    path.write_text(json.dumps({"name": "old", "unit": "raw",
                                "features": [{"index": 1, "strength": 2}]}))
    p = load_preset(path)
    assert p.vectors == [] and p.to_spec().vectors == []
    assert "vectors" not in p.to_json()


GOOD = {"name": "v", "direction": [1.0, 0.0, 2.0], "typical": 2.0, "d_model": 3}


@pytest.mark.parametrize("change, words", [
    ({"d_model": 4}, "vectors[0].d_model is 4, and direction has 3"),
    ({"typical": -1}, "vectors[0].typical must be above 0"),
    ({"direction": [0, 0, 0]}, "vectors[0].direction is all zeros"),
    ({"direction": [1, "x", 2]}, "vectors[0].direction[1] must be a finite number"),
    ({"strength": "big"}, "vectors[0].strength must be a finite number"),
    ({"name": ""}, "vectors[0].name is missing"),
])
def test_a_bad_vector_in_a_preset_is_one_line_naming_file_and_field(tmp_path, change, words):
    path = tmp_path / "bad.json"
    path.write_text(json.dumps({"name": "p", "unit": "raw", "features": [],
                                "vectors": [{**GOOD, "strength": 1.0, **change}]}))
    with pytest.raises(InputError) as exc:
        load_preset(path)
    assert str(exc.value) .startswith(f"{path}: ") and words in str(exc.value)
    assert "\n" not in str(exc.value)


def test_bad_vector_files(tmp_path):
    bad = tmp_path / "bad.json"
    bad.write_text("{not json")
    with pytest.raises(InputError, match="bad.json"):
        load_vector(bad)
    other = tmp_path / "other.json"
    other.write_text(json.dumps(GOOD))      # no "format": not a vector file
    with pytest.raises(InputError, match="not a steerdesk steering vector"):
        load_vector(other)
    assert vector_from_json(GOOD, "x").typical == 2.0


@pytest.mark.parametrize("with_feature", [True, False])
def test_the_compiled_step_steers_with_vectors_as_the_eager_hook(session, monkeypatch,
                                                                 with_feature):
    from steerdesk.engine import compiled
    from steerdesk.engine.compiled import registry

    if compiled.unavailable_reason("cpu") is not None:
        pytest.skip(str(compiled.unavailable_reason("cpu")))
    monkeypatch.setattr(registry.settings, "backend", "eager")   # Dynamo tracing, no codegen
    v = build_vector(session, A, B)
    feats = [FeatureSteer(3, 2.0)] if with_feature else []   # without: vectors alone add
    variants = [SteeringSpec(feats, vectors=[VectorSteer(v, 30.0)]),
                SteeringSpec(vectors=[VectorSteer(v, -30.0)])]
    runs = [generate(session, GenerationRequest("the cat", variants, max_new_tokens=6,
                                                stop_at_eos=False, compile=c))
            for c in (False, True)]
    assert [r.done.decode for r in runs] == ["eager", "compiled"]
    for eager, comp in zip(*(r.rows for r in runs)):
        assert [t.token_id for t in comp.tokens] == [t.token_id for t in eager.tokens]
        assert [t.logprob for t in comp.tokens] == pytest.approx(
            [t.logprob for t in eager.tokens], abs=1e-4)
    assert runs[0].rows[1].text != runs[0].rows[0].text
