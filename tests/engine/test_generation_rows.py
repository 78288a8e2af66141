"""Rows of one generation that end apart, text pieces across multi-byte characters, and the
model's forward called without deprecated arguments.

The stopping tests script the sampler (each row's token at each step is fixed in the test), so
that which row ends when is decided here, not by a random model."""

import warnings

import pytest
import torch

from steerdesk.engine import generation
from steerdesk.engine.generation import (
    DoneEvent,
    GenerationRequest,
    IncrementalText,
    StepEvent,
    generate,
    stream,
)
from steerdesk.engine.steering import FeatureSteer, SteeringSpec

PROMPT = "hello world, the"
EOS = 0            # the tiny tokenizer's end-of-text token


def _scripted(monkeypatch, script: list[list[int]]):
    """Replace the sampler: at step s, row r draws script[r][s] (logprob -1.0)."""
    calls = []

    class Scripted:
        def __init__(self, request, rows, vocab, device, prompt_ids):
            assert rows == len(script)
            self.step = 0

        def __call__(self, logits):
            tokens = torch.tensor([row[self.step] for row in script])
            self.step += 1
            calls.append(tokens.tolist())
            return tokens, torch.full((len(script),), -1.0)

    monkeypatch.setattr(generation, "CoupledSampler", Scripted)
    monkeypatch.setattr(generation, "_eos_ids", lambda session: {EOS})
    return calls


def _three_rows():
    return [SteeringSpec([FeatureSteer(2, 1.0)]), SteeringSpec([FeatureSteer(3, -1.0)])]


def test_a_row_that_ends_early_stops_and_the_others_run_on(session, monkeypatch):
    script = [[5, 6, 7, 8, 9, 10],
              [5, EOS, 7, 7, 7, 7],       # ends at step 1
              [5, 6, 7, EOS, 9, 9]]       # ends at step 3
    _scripted(monkeypatch, script)
    events = list(stream(session, GenerationRequest(PROMPT, _three_rows(), max_new_tokens=6)))
    steps = [e for e in events if isinstance(e, StepEvent)]
    done = events[-1]
    assert isinstance(done, DoneEvent)
    assert len(steps) == 6 and done.steps == 6
    assert done.reason == "length"            # the baseline never ended
    ends = {1: 1, 2: 3}
    for r, row in enumerate(script):
        for s, event in enumerate(steps):
            tok = event.rows[r]
            if r in ends and s > ends[r]:
                assert tok.token_id is None and tok.finished and tok.text == ""
            else:
                assert tok.token_id == row[s]
                assert tok.finished == (ends.get(r) == s)
    tok = session.tokenizer
    assert done.texts[0] == tok.decode(script[0])
    assert done.texts[1] == tok.decode(script[1][:1])       # the EOS adds no text
    assert done.texts[2] == tok.decode(script[2][:3])


def test_when_every_row_has_ended_the_run_ends_with_eos(session, monkeypatch):
    script = [[5, 6, 7, 8, EOS, 9, 9, 9],
              [5, EOS, 7, 7, 7, 7, 7, 7],
              [5, 6, EOS, 9, 9, 9, 9, 9]]
    calls = _scripted(monkeypatch, script)
    result = generate(session, GenerationRequest(PROMPT, _three_rows(), max_new_tokens=8))
    assert result.done.reason == "eos" and result.done.steps == 5
    assert len(calls) == 5                        # no token drawn after the last row ended
    assert [len(r.tokens) for r in result.rows] == [5, 2, 3]
    assert all(r.tokens[-1].finished and r.tokens[-1].token_id == EOS for r in result.rows)


def test_without_stop_at_eos_the_end_token_is_just_a_token(session, monkeypatch):
    script = [[5, EOS, 6], [EOS, 5, 6], [5, 6, EOS]]
    _scripted(monkeypatch, script)
    result = generate(session, GenerationRequest(PROMPT, _three_rows(), max_new_tokens=3,
                                                 stop_at_eos=False))
    assert result.done.reason == "length"
    assert [[t.token_id for t in r.tokens] for r in result.rows] == script
    assert not any(t.finished for r in result.rows for t in r.tokens)


# ---- text pieces -------------------------------------------------------------------------
MULTI = "é日x€ ok"


def test_multi_byte_characters_split_across_tokens_come_out_whole(session):
    tok = session.tokenizer
    ids = tok(MULTI, add_special_tokens=False)["input_ids"]
    assert len(ids) > len(MULTI) - 1, "the tokenizer does not split these characters"
    text = IncrementalText(tok)
    pieces = [text.push(i) for i in ids]
    assert "".join(pieces) == MULTI
    assert all("\ufffd" not in p for p in pieces)
    # Each byte of these characters is a token of its own here: a character shows when its
    # last byte arrives, and the tokens before it add nothing.
    assert pieces[:9] == ["", "é", "", "", "日", "x", "", "", "€"]


def test_a_generated_row_shows_multi_byte_text_as_it_completes(session, monkeypatch):
    ids = session.tokenizer(MULTI, add_special_tokens=False)["input_ids"]
    _scripted(monkeypatch, [ids, ids, ids])
    result = generate(session, GenerationRequest(PROMPT, _three_rows(), max_new_tokens=len(ids)))
    for row in result.rows:
        assert row.text == MULTI
        assert "".join(t.text for t in row.tokens) == MULTI
        assert all("\ufffd" not in t.text for t in row.tokens)


# ---- the forward pass --------------------------------------------------------------------
def test_generation_passes_no_deprecated_cache_argument(session, monkeypatch):
    """transformers 5.2x renamed `past_key_values` to `cache` and warns at every call with
    the old name (a FutureWarning per step, and a log line when the output's old name is
    read). A generation that steers and reads (every forward path) must trigger neither."""
    import transformers.utils.generic as hf_generic

    logged = []
    if hasattr(hf_generic, "logger"):
        monkeypatch.setattr(hf_generic.logger, "warning_once",
                            lambda msg, *a, **k: logged.append(str(msg)), raising=False)
    request = GenerationRequest(PROMPT, [SteeringSpec([FeatureSteer(4, 3.0)])],
                                max_new_tokens=4, watch=[4])
    with warnings.catch_warnings(record=True) as seen:
        warnings.simplefilter("always")
        generate(session, request)                                   # reads: forward per step
        generate(session, GenerationRequest(PROMPT, [], max_new_tokens=4))   # deferred forward
    about_cache = [str(w.message) for w in seen if "past_key_values" in str(w.message)]
    assert about_cache == []
    assert [m for m in logged if "past_key_values" in m] == []


def test_the_cache_argument_follows_the_forward_signature():
    class New(torch.nn.Module):
        def forward(self, input_ids=None, cache=None, use_cache=None, logits_to_keep=0):
            pass

    class Old(torch.nn.Module):
        def forward(self, input_ids=None, past_key_values=None, use_cache=None):
            pass

    new, old = generation._Forward(New()), generation._Forward(Old())
    assert (new.cache_arg, new.keep) == ("cache", {"logits_to_keep": 1})
    assert (old.cache_arg, old.keep) == ("past_key_values", {})


@pytest.mark.parametrize("name", ["cache", "past_key_values"])
def test_the_cache_is_read_back_under_either_name(name):
    sentinel = object()

    class Output(dict):
        """What a forward returns, under either release's field name (transformers before
        the rename has no `cache` field to build a real output with)."""

        @property
        def logits(self):
            return self["logits"]

    class Model(torch.nn.Module):
        def forward(self, input_ids=None, use_cache=None, **kw):
            return Output(logits=torch.zeros(1, 1, 3), **{name: sentinel})

    cache, logits = generation._Forward(Model())(torch.zeros(1, 1, dtype=torch.long))
    assert cache is sentinel and logits.shape == (1, 3)
