"""A prompt too long for the context is cut from its start when asked (the app asks), and the
run equals a run of the cut prompt's tokens; without the flag a hard limit stays an error."""

import pytest

from steerdesk.engine.errors import InputError
from steerdesk.engine.generation import GenerationRequest, generate
from steerdesk.engine.prompt_fit import fit_prompt


def test_fit_keeps_the_end_and_a_leading_start_token():
    ids = [1] + list(range(10, 30))             # BOS 1, then 20 tokens
    kept, cut = fit_prompt(ids, limit=16, max_new_tokens=6, bos_id=1)
    assert kept == [1] + list(range(21, 30)) and cut == 11 and len(kept) + 6 == 16
    kept, cut = fit_prompt(ids, limit=16, max_new_tokens=6, bos_id=None)
    assert kept == list(range(20, 30)) and cut == 11
    assert fit_prompt(ids, limit=None, max_new_tokens=6, bos_id=1) == (ids, 0)
    assert fit_prompt(ids, limit=27, max_new_tokens=6, bos_id=1) == (ids, 0)
    with pytest.raises(InputError, match="no room for the prompt"):
        fit_prompt(ids, limit=7, max_new_tokens=6, bos_id=1)
    assert fit_prompt(ids, limit=7, max_new_tokens=6, bos_id=1, hard=False) == (ids, 0)


def test_a_cut_run_equals_the_run_of_the_cut_prompt(session):
    tok = session.tokenizer
    context = session.model.config.max_position_embeddings
    long_prompt = " ".join(["the weather today is fine and"] * 60)
    ids = tok(long_prompt)["input_ids"]
    assert len(ids) > context
    req = GenerationRequest(long_prompt, max_new_tokens=8, fit_prompt=True, watch=[3])
    cut = generate(session, req)
    assert cut.prompt.prompt_cut == len(ids) - len(cut.prompt.token_ids)
    assert len(cut.prompt.token_ids) + 8 == context and cut.prompt.context == context
    bos = tok.bos_token_id
    tail = ids[len(ids) - (context - 8 - (ids[0] == bos)):]
    expected_ids = ([bos] if ids[0] == bos else []) + tail
    assert cut.prompt.token_ids == expected_ids
    assert cut.done.reason in ("length", "eos") and cut.rows[0].tokens


def test_short_prompts_are_untouched(session):
    req = GenerationRequest("The weather today is", max_new_tokens=4, fit_prompt=True)
    a = generate(session, req)
    b = generate(session, GenerationRequest("The weather today is", max_new_tokens=4))
    assert a.prompt.prompt_cut == 0 and a.prompt.token_ids == b.prompt.token_ids
    assert [t.token_id for t in a.rows[0].tokens] == [t.token_id for t in b.rows[0].tokens]
