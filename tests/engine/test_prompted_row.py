"""The prompted column (engine/prompted.py): the instructed prompt, unsteered, as the last row,
sampled with the same noise as the others, leaving them bit for bit as they were."""

import math

import pytest
import torch

from steerdesk.engine.costs import result_metrics
from steerdesk.engine.errors import InputError
from steerdesk.engine.generation import GenerationRequest, generate
from steerdesk.engine.prompted import instructed_prompt
from steerdesk.engine.steering import FeatureSteer, SteeringSpec

PROMPT = "hello world, the"
INSTRUCTION = "Der schnelle Fuchs"


def _req(prompt=PROMPT, variants=(), **kw):
    base = dict(max_new_tokens=10, temperature=1.3, seed=11, stop_at_eos=False)
    base.update(kw)
    return GenerationRequest(prompt, list(variants), **base)


def _strong():
    return [SteeringSpec([FeatureSteer(3, 40.0)]), SteeringSpec([FeatureSteer(5, 0.0, "clamp"),
                                                                 FeatureSteer(7, 25.0)])]


def _ids(row):
    return [t.token_id for t in row.tokens]


def _flat(rows):
    return [x for r in rows for x in r]


def _lps(row):
    return [t.logprob for t in row.tokens]


@pytest.mark.parametrize("watch", [[], [3, 9]])
def test_prompted_text_equals_a_plain_run_of_the_instructed_prompt(session, watch):
    with_it = generate(session, _req(variants=_strong(), watch=watch, prompted=INSTRUCTION))
    alone = generate(session, _req(instructed_prompt(INSTRUCTION, PROMPT), watch=watch))
    row, ref = with_it.rows[-1], alone.rows[0]
    assert row.name == "prompted: " + INSTRUCTION
    assert with_it.prompt.prompted_row == 3 == len(with_it.rows) - 1
    assert with_it.prompt.prompted_token_ids == alone.prompt.token_ids
    assert _ids(row) == _ids(ref) and row.text == ref.text
    assert _lps(row) == pytest.approx(_lps(ref), abs=1e-5)
    assert with_it.done.texts[-1] == ref.text
    if watch:   # read at the hook, unsteered: what the plain run's baseline reads
        assert _flat([t.activations for t in row.tokens]) == pytest.approx(
            _flat([t.activations for t in ref.tokens]), abs=1e-4)
        assert _flat(row.prompt_activations) == pytest.approx(_flat(ref.prompt_activations),
                                                              abs=1e-4)
        assert len(row.prompt_activations) == len(with_it.prompt.prompted_token_ids)
    # Sampled, not greedy: another seed gives another text (the noise is the seed's).
    other = generate(session, _req(variants=_strong(), prompted=INSTRUCTION, seed=12))
    assert _ids(other.rows[-1]) != _ids(row)


@pytest.mark.parametrize("positions", ["all", "generated"])
@pytest.mark.parametrize("watch", [[], [3], [3, 7]])
def test_other_rows_are_bit_for_bit_unchanged_by_the_prompted_row(session, positions, watch):
    kw = dict(variants=_strong(), positions=positions, watch=watch)
    plain = generate(session, _req(**kw))
    with_it = generate(session, _req(**kw, prompted=INSTRUCTION))
    assert len(with_it.rows) == len(plain.rows) + 1
    for a, b in zip(plain.rows, with_it.rows):
        assert a.name == b.name
        assert _ids(a) == _ids(b)
        assert _lps(a) == _lps(b)           # exactly: not one bit moved
        assert [t.activations for t in a.tokens] == [t.activations for t in b.tokens]
        assert a.prompt_activations == b.prompt_activations


def test_prompted_row_is_never_steered_even_when_every_position_is(session):
    """Variants steering every position with huge strengths: the prompted row is still what the
    unsteered model gives for its prompt, token and log-prob."""
    huge = [SteeringSpec([FeatureSteer(i, 500.0) for i in range(0, 64, 5)])]
    req = _req(variants=huge, positions="all", watch=[0], prompted=INSTRUCTION,
               prompt_logprobs=True)
    with_it = generate(session, req)
    alone = generate(session, _req(instructed_prompt(INSTRUCTION, PROMPT), watch=[0],
                                   prompt_logprobs=True))
    assert _ids(with_it.rows[1]) != _ids(with_it.rows[0])   # the variant does steer
    assert _ids(with_it.rows[-1]) == _ids(alone.rows[0])
    assert _lps(with_it.rows[-1]) == pytest.approx(_lps(alone.rows[0]), abs=1e-5)
    assert with_it.rows[-1].prompt_logprobs == pytest.approx(alone.rows[0].prompt_logprobs,
                                                             abs=1e-5)


def test_prompted_perplexity_uses_its_own_prompt_as_context(session):
    result = generate(session, _req(variants=_strong(), prompted=INSTRUCTION))
    m = result_metrics(session, result, [])[-1]
    row = result.rows[-1]
    ids = list(result.prompt.prompted_token_ids) + _ids(row)
    with torch.no_grad():
        logits = session.model(input_ids=torch.tensor([ids])).logits[0]
    p = len(result.prompt.prompted_token_ids)
    assert p > len(result.prompt.token_ids)
    lp = [float(torch.log_softmax(logits[i - 1], -1)[ids[i]]) for i in range(p, len(ids))]
    assert math.isclose(m["perplexity"], math.exp(-sum(lp) / len(lp)), rel_tol=1e-4)


def test_the_prompted_row_goes_on_after_the_others_end_and_stops_at_its_own_end(
        session, monkeypatch):
    """With every token an end token but the prompted row's, the loop runs on for it alone."""
    from steerdesk.engine import generation

    alone = generate(session, _req(instructed_prompt(INSTRUCTION, PROMPT), stop_at_eos=True))
    first = alone.rows[0].tokens[0].token_id
    plain = generate(session, _req(variants=_strong()))
    ends = {plain.rows[r].tokens[0].token_id for r in range(3)} - {first}
    monkeypatch.setattr(generation, "_eos_ids", lambda s: ends)
    out = generate(session, _req(variants=_strong(), prompted=INSTRUCTION, stop_at_eos=True))
    ref = generate(session, _req(instructed_prompt(INSTRUCTION, PROMPT), stop_at_eos=True))
    assert _ids(out.rows[-1]) == _ids(ref.rows[0])
    for r in range(3):
        if plain.rows[r].tokens[0].token_id in ends:
            assert len(out.rows[r].tokens) == 1 and out.rows[r].tokens[0].finished


def test_the_prompted_row_stops_at_its_own_end_token(session, monkeypatch):
    from steerdesk.engine import generation

    free = generate(session, _req(instructed_prompt(INSTRUCTION, PROMPT)))
    end = free.rows[0].tokens[3].token_id
    monkeypatch.setattr(generation, "_eos_ids", lambda s: {end})
    ref = generate(session, _req(instructed_prompt(INSTRUCTION, PROMPT), stop_at_eos=True))
    out = generate(session, _req(variants=_strong(), prompted=INSTRUCTION, stop_at_eos=True))
    row = out.rows[-1]
    assert _ids(row) == _ids(ref.rows[0]) and row.tokens[-1].finished
    assert len(row.tokens) <= 4 and row.text == ref.rows[0].text


def test_chat_mode_puts_the_instruction_in_the_user_turn(session):
    tok = session.tokenizer
    tok.chat_template = ("{% for m in messages %}user: {{ m['content'] }}\n{% endfor %}"
                         "bot:")
    try:
        result = generate(session, _req(prompted=INSTRUCTION, chat=True, max_new_tokens=2))
        want = tok.apply_chat_template(
            [{"role": "user", "content": INSTRUCTION + "\n\n" + PROMPT}],
            add_generation_prompt=True, tokenize=True)
        if hasattr(want, "keys"):
            want = want["input_ids"]
    finally:
        tok.chat_template = None
    assert result.prompt.prompted_token_ids == list(want)
    assert result.prompt.chat_template_used


def test_completion_mode_prefixes_the_instruction(session):
    result = generate(session, _req(prompted="  Auf Deutsch:  ", max_new_tokens=1))
    assert result.prompt.prompted_token_ids == session.tokenizer(
        "Auf Deutsch:\n\n" + PROMPT)["input_ids"]
    assert result.rows[-1].name == "prompted: Auf Deutsch:"


def test_an_empty_instruction_is_refused(session):
    with pytest.raises(InputError, match="instruction is empty"):
        generate(session, _req(prompted="   "))


def test_compiling_asked_for_falls_back_to_eager_with_the_reason(session):
    result = generate(session, _req(prompted=INSTRUCTION, compile=True, max_new_tokens=2))
    assert result.done.decode.startswith("eager: the prompted column")


def test_rule_columns_stay_bit_for_bit_with_the_prompted_row_and_it_outlives_a_stop(session):
    """Rules and the prompted column together: a conditional column and a column a stop rule
    ends at once keep their tokens and flags, and the prompted row goes on alone after."""
    from steerdesk.engine.rules import parse_rule

    act = parse_rule("when 3>-1 then 7=25 for 2")       # ReLU: always holds
    stop = parse_rule("when 3>-1 then stop")
    kw = dict(variants=[SteeringSpec(rules=[act]), SteeringSpec(rules=[stop])], watch=[3])
    plain = generate(session, _req(**kw))
    with_it = generate(session, _req(**kw, prompted=INSTRUCTION))
    for a, b in zip(plain.rows, with_it.rows):
        assert _ids(a) == _ids(b) and _lps(a) == _lps(b)
        assert [t.rules_held for t in a.tokens] == [t.rules_held for t in b.tokens]
        assert [t.rules_acting for t in a.tokens] == [t.rules_acting for t in b.tokens]
    assert any(t.rules_acting for t in with_it.rows[1].tokens)
    assert not with_it.rows[2].tokens   # stopped at the prompt's last token
    alone = generate(session, _req(instructed_prompt(INSTRUCTION, PROMPT), watch=[3]))
    assert _ids(with_it.rows[-1]) == _ids(alone.rows[0])


def test_a_long_prompt_is_cut_for_the_prompted_row_too(session):
    """fit_prompt cuts the instructed prompt from its start as it cuts the plain one: the
    prompted row is what a plain cut run of the instructed prompt gives."""
    context = session.model.config.max_position_embeddings
    long_prompt = " ".join(["the weather today is fine and"] * 60)
    kw = dict(max_new_tokens=8, fit_prompt=True)
    with_it = generate(session, _req(long_prompt, prompted=INSTRUCTION, **kw))
    alone = generate(session, _req(instructed_prompt(INSTRUCTION, long_prompt), **kw))
    assert len(with_it.prompt.prompted_token_ids) + 8 <= context
    assert with_it.prompt.prompted_token_ids == alone.prompt.token_ids
    assert _ids(with_it.rows[-1]) == _ids(alone.rows[0])
