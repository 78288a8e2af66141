"""Steering checked against hand computations at the hook point."""

import pytest
import torch
from hooking import installed, module_hook

from steerdesk.engine.errors import InputError
from steerdesk.engine.generation import GenerationRequest, generate
from steerdesk.engine.hooks import resolve_hook
from steerdesk.engine.steering import FeatureSteer, SteeringSpec, parse_spec

PROMPT = "the quick brown fox"


def _logprobs_with_manual_hook(session, ids, fn):
    """Next-token log-probs of a full (cache-free) forward with `fn` applied at the SAE's hook."""
    with installed(resolve_hook(session.model, session.hook.name), fn), torch.no_grad():
        logits = session.model(input_ids=torch.tensor([ids]), use_cache=False).logits[0]
    return torch.log_softmax(logits.float(), dim=-1)


def test_add_matches_hand_computation_of_h_plus_s_times_decoder_row(session):
    i, s = 7, 6.0
    req = GenerationRequest(PROMPT, [SteeringSpec([FeatureSteer(i, s, "add")])], max_new_tokens=6)
    result = generate(session, req)
    steered = result.rows[1]
    row = session.sae.W_dec[i].clone()
    ids = list(result.prompt.token_ids)
    for tok in steered.tokens:
        # h + s * W_dec[i] at every position, prompt and generated, without a KV cache
        lp = _logprobs_with_manual_hook(session, ids, lambda h: h + s * row)[-1]
        assert tok.token_id == int(lp.argmax())
        assert tok.logprob == pytest.approx(float(lp[tok.token_id]), abs=1e-4)
        ids.append(tok.token_id)
    assert steered.text != result.rows[0].text  # the push is big enough to change the text


def test_several_features_add_up(session):
    feats = [FeatureSteer(3, 2.0), FeatureSteer(9, -3.0), FeatureSteer(3, 1.5)]
    result = generate(session, GenerationRequest(PROMPT, [SteeringSpec(feats)], max_new_tokens=3))
    vec = 3.5 * session.sae.W_dec[3] - 3.0 * session.sae.W_dec[9]
    ids = list(result.prompt.token_ids)
    for tok in result.rows[1].tokens:
        lp = _logprobs_with_manual_hook(session, ids, lambda h: h + vec)[-1]
        assert tok.logprob == pytest.approx(float(lp[tok.token_id]), abs=1e-4)
        ids.append(tok.token_id)


def test_clamp_keeps_the_error_term_and_reads_the_set_value(session):
    i, target = 11, 4.0
    sae = session.sae
    captured, before = [], []
    # Before: a hook on the SAE's module that runs ahead of the steering hook. After: the next
    # block's input, which is what the model carries on with.
    with module_hook(session.hook.module, lambda m, a, out: before.append(
            (out[0] if isinstance(out, tuple) else out).clone()), prepend=True), \
            installed(resolve_hook(session.model, "blocks.2.hook_resid_pre"),
                      lambda h: captured.append(h.clone())):
        result = generate(session, GenerationRequest(
            PROMPT, [SteeringSpec([FeatureSteer(i, target, "clamp")])], max_new_tokens=4,
            watch=[i, 2]))
    assert len(before) == len(captured) == 1 + 4
    for h_in, h_out in zip(before, captured):
        x = h_in[1]  # the steered row, before and after the intervention
        acts, state = sae.encode_with_state(x)
        error = x - sae.decode(acts, state)
        pinned = acts.clone()
        pinned[..., i] = target
        expected = sae.decode(pinned, state) + error
        assert torch.allclose(h_out[1], expected, atol=1e-5)
        assert torch.equal(h_out[0], h_in[0])  # the baseline row is untouched
    # The readout of the clamped feature is the set value at every steered position...
    steered = result.rows[1]
    assert all(pos[0] == pytest.approx(target) for pos in steered.prompt_activations)
    assert all(t.activations[0] == pytest.approx(target) for t in steered.tokens)
    # ...while the baseline reads the SAE's own encode of its hidden state.
    base_acts = sae.encode(before[0][0])[:, i]
    assert [p[0] for p in result.rows[0].prompt_activations] == pytest.approx(base_acts.tolist(), abs=1e-5)


def test_ablate_sets_a_firing_feature_to_zero(session):
    from steerdesk.engine.reading import features_on_text

    i = features_on_text(session, PROMPT, top=1)[0][0]  # a feature that fires on this prompt
    result = generate(session, GenerationRequest(
        PROMPT, [parse_spec(str(i), mode="ablate")], max_new_tokens=3, watch=[i]))
    assert max(p[0] for p in result.rows[0].prompt_activations) > 0
    assert all(p[0] == 0 for p in result.rows[1].prompt_activations)


@pytest.mark.parametrize("temperature", [0.0, 0.9])
def test_strength_zero_reproduces_the_baseline_token_for_token(session, temperature):
    variants = [SteeringSpec([FeatureSteer(5, 0.0)]), SteeringSpec([]),
                SteeringSpec([FeatureSteer(5, 0.0, "add"), FeatureSteer(8, 0.0, "add")])]
    req = GenerationRequest(PROMPT, variants, max_new_tokens=12, temperature=temperature, seed=3)
    result = generate(session, req)
    alone = generate(session, GenerationRequest(PROMPT, [], max_new_tokens=12,
                                                temperature=temperature, seed=3))
    base = [(t.token_id, t.logprob) for t in result.rows[0].tokens]
    # Another batch size may round differently in the last bit; the tokens are the same.
    assert [t for t, _ in base] == [t.token_id for t in alone.rows[0].tokens]
    assert [lp for _, lp in base] == pytest.approx([t.logprob for t in alone.rows[0].tokens],
                                                   abs=1e-5)
    for row in result.rows[1:]:
        # Token for token identical. Log-probs may differ in the last float bit: a CPU matrix
        # kernel can treat rows of one batch with different instruction paths.
        assert [t.token_id for t in row.tokens] == [t for t, _ in base]
        assert [t.logprob for t in row.tokens] == pytest.approx([lp for _, lp in base], abs=1e-5)
        assert row.text == result.rows[0].text


def test_generated_only_positions_leave_the_prompt_alone(session):
    spec = SteeringSpec([FeatureSteer(7, 6.0)])
    req = GenerationRequest(PROMPT, [spec], max_new_tokens=4, positions="generated", watch=[7])
    result = generate(session, req)
    base, steered = result.rows
    assert steered.prompt_activations == base.prompt_activations
    # The first new token comes from the prompt's last position: unsteered.
    assert steered.tokens[0].logprob == base.tokens[0].logprob
    # From then on the generated positions are steered: check against a manual hook that adds
    # only at positions past the prompt.
    n = len(result.prompt.token_ids)
    ids = list(result.prompt.token_ids) + [steered.tokens[0].token_id]
    row = session.sae.W_dec[7]

    def add_after_prompt(h):
        h = h.clone()
        h[:, n:] += 6.0 * row
        return h
    lp = _logprobs_with_manual_hook(session, ids, add_after_prompt)[-1]
    assert steered.tokens[1].logprob == pytest.approx(float(lp[steered.tokens[1].token_id]), abs=1e-4)


def test_unit_max_multiplies_by_the_features_max_activation(session):
    session.max_acts = torch.linspace(0.5, 2.0, session.sae.d_sae)
    try:
        a = generate(session, GenerationRequest(
            PROMPT, [SteeringSpec([FeatureSteer(7, 3.0)], unit="max")], max_new_tokens=4))
        b = generate(session, GenerationRequest(
            PROMPT, [SteeringSpec([FeatureSteer(7, 3.0 * float(session.max_acts[7]))])],
            max_new_tokens=4))
    finally:
        session.max_acts = None
    assert [t.logprob for t in a.rows[1].tokens] == [t.logprob for t in b.rows[1].tokens]


def test_unit_max_without_a_catalog_says_what_to_do(session):
    with pytest.raises(InputError, match="catalog"):
        generate(session, GenerationRequest(
            PROMPT, [SteeringSpec([FeatureSteer(1, 1.0)], unit="max")], max_new_tokens=1))


def test_feature_index_out_of_range(session):
    with pytest.raises(InputError, match="feature index 64 is out of range: this SAE has 64"):
        generate(session, GenerationRequest(PROMPT, [parse_spec("64=1")], max_new_tokens=1))


@pytest.mark.parametrize("text", ["3", "3=x", "=2", "3=1,,"])
def test_bad_steer_specs(text):
    with pytest.raises(InputError, match="IDX=STRENGTH"):
        parse_spec(text)


def test_spec_parsing():
    spec = parse_spec("3=1.5, 12=-2e1")
    assert [(f.index, f.strength, f.mode) for f in spec.features] == [(3, 1.5, "add"),
                                                                      (12, -20.0, "add")]
    assert [f.strength for f in parse_spec("4,5", mode="ablate").features] == [0.0, 0.0]


def test_mixed_modes_in_one_variant_are_the_features_given_one_by_one(session):
    mixed = parse_spec("3=2,5=ablate,7=clamp:1.5")
    assert [(f.index, f.strength, f.mode) for f in mixed.features] == [
        (3, 2.0, "add"), (5, 0.0, "ablate"), (7, 1.5, "clamp")]
    by_hand = SteeringSpec([FeatureSteer(3, 2.0, "add"), FeatureSteer(5, 0.0, "ablate"),
                            FeatureSteer(7, 1.5, "clamp")])
    a = generate(session, GenerationRequest(PROMPT, [mixed], max_new_tokens=4, watch=[5, 7]))
    b = generate(session, GenerationRequest(PROMPT, [by_hand], max_new_tokens=4, watch=[5, 7]))
    assert [t.logprob for t in a.rows[1].tokens] == [t.logprob for t in b.rows[1].tokens]
    # the ablated feature reads 0 and the clamped one its value at every new token
    assert all(t.activations == pytest.approx([0.0, 1.5]) for t in a.rows[1].tokens)
    # and the add took effect: the column is not what clamp and ablate alone give
    no_add = generate(session, GenerationRequest(PROMPT, [parse_spec("5=ablate,7=clamp:1.5")],
                                                 max_new_tokens=4))
    assert [t.logprob for t in no_add.rows[1].tokens] != [t.logprob for t in a.rows[1].tokens]


def test_the_default_mode_applies_to_plain_items_only():
    spec = parse_spec("3=2,4=add:1,5", mode="ablate")
    assert [(f.index, f.mode) for f in spec.features] == [(3, "ablate"), (4, "add"), (5, "ablate")]
    assert [f.strength for f in parse_spec("6=4", mode="clamp").features] == [4.0]


def test_a_strength_given_with_ablate_is_noted():
    notes = []
    parse_spec("3=2,4=ablate:1.5,5=ablate", mode="ablate", notes=notes)
    assert notes == ["feature 3: ablate sets it to 0, so the strength 2 given is not used",
                     "feature 4: ablate sets it to 0, so the strength 1.5 given is not used"]


@pytest.mark.parametrize("text", ["3=1e999", "3=-1e400", "3=clamp:1e999"])
def test_a_strength_must_be_finite(text):
    with pytest.raises(InputError, match="is not a finite number"):
        parse_spec(text)
    with pytest.raises(InputError, match="is not a finite number"):
        FeatureSteer(3, float("nan"))


@pytest.mark.parametrize("text", ["3=clamp", "3=add", "3=abl", "3=clamp:", "3=ablate:x"])
def test_bad_mode_items(text):
    with pytest.raises(InputError, match="IDX=MODE:STRENGTH"):
        parse_spec(text)
