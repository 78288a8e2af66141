"""Gaps the mutation check found (docs/testing.md): --top-k must reach the sampler, and option
abbreviations are refused rather than guessed."""

import json

from steerdesk.engine.generation import GenerationRequest, generate
from steerdesk.engine.session import open_session

PROMPT = "the quick brown"


def test_top_k_one_at_high_temperature_is_greedy(tiny, cli):
    """Sampling from the single most likely token is greedy whatever the temperature; at
    temperature 3 without the cut, 10 tokens of a random model would not stay greedy."""
    model, sae = tiny
    run = cli("generate", "--model", model, "--sae", sae, "--prompt", PROMPT, "--json",
              "--max-new-tokens", 10, "--temperature", 3, "--top-k", 1, "--seed", 5,
              )
    assert run.code == 0, run.err
    out = json.loads(run.out)
    assert out["sampling"]["top_k"] == 1
    greedy = generate(open_session(model, sae),
                      GenerationRequest(PROMPT, max_new_tokens=10, temperature=0.0))
    assert [t["id"] for t in out["columns"][0]["tokens"]] == \
        [t.token_id for t in greedy.rows[0].tokens]
    hot = generate(open_session(model, sae),
                   GenerationRequest(PROMPT, max_new_tokens=10, temperature=3.0, seed=5))
    assert [t.token_id for t in hot.rows[0].tokens] != [t.token_id for t in greedy.rows[0].tokens]


def test_abbreviated_options_are_refused(tiny, cli):
    model, sae = tiny
    run = cli("generate", "--model", model, "--sae", sae, "--prompt", PROMPT, "--max-new", 3)
    assert run.code == 2
    assert len(run.err_lines) >= 1 and "--max-new" in run.err


def test_finish_reason_per_column():
    """A column whose last token is its end of text ended at EOS, whatever the run's reason;
    the others ran to the length, or were cancelled with the run."""
    from types import SimpleNamespace as NS

    from steerdesk.cli.generate_json import _finish

    ended = NS(tokens=[NS(finished=False), NS(finished=True)])
    running = NS(tokens=[NS(finished=False), NS(finished=False)])
    assert _finish(ended, "length") == "eos"
    assert _finish(ended, "cancelled") == "eos"
    assert _finish(running, "length") == "length"
    assert _finish(running, "cancelled") == "cancelled"
    assert _finish(NS(tokens=[]), "length") == "length"
