import threading

import pytest
import torch
from hooking import installed

from steerdesk.engine.errors import InputError
from steerdesk.engine.generation import (
    DoneEvent,
    GenerationRequest,
    PromptEvent,
    StepEvent,
    generate,
    stream,
)
from steerdesk.engine.steering import FeatureSteer, SteeringSpec

PROMPT = "hello world, the"


def test_greedy_baseline_equals_transformers_generate(session):
    result = generate(session, GenerationRequest(PROMPT, [SteeringSpec([FeatureSteer(2, 5.0)])],
                                                 max_new_tokens=10, stop_at_eos=False))
    ids = torch.tensor([result.prompt.token_ids])
    with torch.no_grad():
        plain = session.model.generate(ids, attention_mask=torch.ones_like(ids), do_sample=False,
                                       max_new_tokens=10, min_new_tokens=10)
    assert [t.token_id for t in result.rows[0].tokens] == plain[0, ids.shape[1]:].tolist()


def test_logprob_is_the_natural_log_probability_of_the_chosen_token(session):
    result = generate(session, GenerationRequest(PROMPT, [], max_new_tokens=3))
    ids = list(result.prompt.token_ids)
    for tok in result.rows[0].tokens:
        with torch.no_grad():
            logits = session.model(input_ids=torch.tensor([ids])).logits[0, -1]
        assert tok.logprob == pytest.approx(float(torch.log_softmax(logits, -1)[tok.token_id]),
                                            abs=1e-4)
        ids.append(tok.token_id)


def test_text_pieces_join_to_the_decoded_text(session):
    result = generate(session, GenerationRequest(PROMPT, [], max_new_tokens=15, temperature=1.0))
    row = result.rows[0]
    assert "".join(t.text for t in row.tokens) == row.text
    assert row.text == session.tokenizer.decode([t.token_id for t in row.tokens])


def test_same_seed_same_text_other_seed_other_text(session):
    def run(seed):
        return generate(session, GenerationRequest(PROMPT, [], max_new_tokens=12,
                                                   temperature=1.0, top_p=0.95, seed=seed)).rows[0].text
    assert run(1) == run(1)
    assert len({run(s) for s in range(4)}) > 1


def test_repetition_penalty_changes_the_greedy_choice(session):
    plain = generate(session, GenerationRequest(PROMPT, [], max_new_tokens=12)).rows[0]
    penalised = generate(session, GenerationRequest(PROMPT, [], max_new_tokens=12,
                                                    repetition_penalty=5.0)).rows[0]
    ids = [t.token_id for t in penalised.tokens]
    assert [t.token_id for t in plain.tokens] != ids
    assert len(set(ids)) >= len(set(t.token_id for t in plain.tokens))


def test_stops_at_eos(session, monkeypatch):
    free = generate(session, GenerationRequest(PROMPT, [], max_new_tokens=8)).rows[0].tokens
    eos = free[3].token_id  # make the 4th greedy token the end-of-text token
    from steerdesk.engine import generation

    monkeypatch.setattr(generation, "_eos_ids", lambda s: {eos})
    result = generate(session, GenerationRequest(PROMPT, [], max_new_tokens=8))
    first = next(n for n, t in enumerate(free) if t.token_id == eos)
    assert len(result.rows[0].tokens) == first + 1 and result.rows[0].tokens[-1].finished
    assert result.done.reason == "eos"


def test_cancel_between_steps_from_another_thread(session):
    stop = threading.Event()
    events = []
    for event in stream(session, GenerationRequest(PROMPT, [], max_new_tokens=200), stop):
        events.append(event)
        if isinstance(event, StepEvent) and event.step == 2:
            setter = threading.Thread(target=stop.set)
            setter.start()
            setter.join()   # set before the next step is asked for, however slow the machine
    assert isinstance(events[0], PromptEvent) and isinstance(events[-1], DoneEvent)
    assert events[-1].reason == "cancelled"
    assert sum(isinstance(e, StepEvent) for e in events) == 3


def test_top_k_features_per_row_are_a_full_encode(session):
    result = generate(session, GenerationRequest(PROMPT, [], max_new_tokens=2, top_k_features=5))
    top = result.rows[0].prompt_top_features[-1]
    assert len(top) == 5 and [v for _, v in top] == sorted((v for _, v in top), reverse=True)
    captured = []
    with installed(session.hook, lambda h: captured.append(h.clone())), torch.no_grad():
        session.model(input_ids=torch.tensor([result.prompt.token_ids]))
    acts = session.sae.encode(captured[0][0, -1])
    assert [i for i, _ in top] == torch.topk(acts, 5).indices.tolist()


def test_chat_mode_applies_the_template(session, monkeypatch):
    template = "{% for m in messages %}<user>{{ m['content'] }}</user>{% endfor %}<bot>"
    monkeypatch.setattr(session.tokenizer, "chat_template", template, raising=False)
    result = generate(session, GenerationRequest("hi", [], max_new_tokens=1, chat=True))
    assert result.prompt.chat_template_used
    assert session.tokenizer.decode(result.prompt.token_ids).endswith("<user>hi</user><bot>")


def test_bad_requests():
    with pytest.raises(InputError, match="temperature"):
        GenerationRequest("x", temperature=-1).validate()
    with pytest.raises(InputError, match="top-p"):
        GenerationRequest("x", top_p=0).validate()


def test_eos_ids_come_from_the_tokenizer_and_the_generation_config(session, monkeypatch):
    from steerdesk.engine.generation import _eos_ids

    monkeypatch.setattr(session.model.generation_config, "eos_token_id", [7, 9])
    assert _eos_ids(session) == {session.tokenizer.eos_token_id, 7, 9}


def test_prompt_logprobs_are_each_tokens_log_prob_given_the_ones_before(session):
    spec = SteeringSpec([FeatureSteer(2, 6.0)])
    asked = generate(session, GenerationRequest(PROMPT, [spec], max_new_tokens=2,
                                                prompt_logprobs=True))
    ids = asked.prompt.token_ids
    with torch.no_grad():
        logits = session.model(input_ids=torch.tensor([ids])).logits[0]
    want = torch.log_softmax(logits.float(), -1)[torch.arange(len(ids) - 1), ids[1:]]
    base, steered = asked.rows
    assert base.prompt_logprobs[0] is None                  # nothing predicts the first token
    assert base.prompt_logprobs[1:] == pytest.approx(want.tolist(), abs=1e-4)
    # The steered column reads its prompt under its own (steered) distribution.
    assert steered.prompt_logprobs[1:] != pytest.approx(want.tolist(), abs=1e-4)
    # Not asked: none computed, and the generated tokens are the same either way.
    plain = generate(session, GenerationRequest(PROMPT, [spec], max_new_tokens=2))
    assert plain.prompt.logprobs is None and plain.rows[0].prompt_logprobs is None
    assert [[t.token_id for t in r.tokens] for r in plain.rows] == \
        [[t.token_id for t in r.tokens] for r in asked.rows]


def test_a_learned_position_table_bounds_the_new_tokens(tmp_path):
    from steerdesk.engine.session import open_session
    from steerdesk.testing.tiny import make_model, make_sae

    model = make_model(tmp_path / "gpt2", "gpt2", d=32, layers=2)   # 128 positions
    sae = make_sae(tmp_path / "sae", d_in=32, d_sae=16, hook="blocks.1.hook_resid_pre")
    session = open_session(model, sae)
    with pytest.raises(InputError, match=r"do not fit in this model's 128 positions") as err:
        generate(session, GenerationRequest("hello", max_new_tokens=200))
    assert err.value.field == "max_new_tokens"
    assert len(generate(session, GenerationRequest("hello", max_new_tokens=3,
                                                   stop_at_eos=False)).rows[0].tokens) == 3
