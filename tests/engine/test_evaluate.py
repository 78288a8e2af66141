"""engine/evaluate.py: the table's figures against a hand computation over the generated texts."""

import math
import statistics

import pytest
import torch

from steerdesk.engine.errors import InputError
from steerdesk.engine.evaluate import evaluate, read_prompts
from steerdesk.engine.generation import GenerationRequest, generate
from steerdesk.engine.prompted import instructed_prompt
from steerdesk.engine.steering import FeatureSteer, SteeringSpec

PROMPTS = ["hello world, the", "the quick brown", "El zorro"]
INSTR = "Der schnelle Fuchs"


def stub_judge(texts):
    """Reached: the text has more 'e's than 'o's (any fixed rule of the text will do)."""
    return [t.count("e") > t.count("o") for t in texts]


def _hand_ppl(session, prompt_ids, new_ids):
    if not new_ids:
        return None
    ids = torch.tensor([prompt_ids + new_ids])
    with torch.no_grad():
        lp = torch.log_softmax(session.model(input_ids=ids).logits[0].float(), -1)
    p = len(prompt_ids)
    return math.exp(-sum(float(lp[i - 1, ids[0, i]]) for i in range(p, ids.shape[1]))
                    / len(new_ids))


def test_figures_equal_a_hand_computation_over_the_texts(session):
    spec = SteeringSpec([FeatureSteer(3, 30.0)])
    seeds = [0, 1]
    out = evaluate(session, spec, INSTR, PROMPTS, stub_judge, seeds=seeds, max_new_tokens=6,
                   temperature=1.1)
    tok = session.tokenizer
    texts = {"baseline": [], "steered": [], "prompted": []}
    ppls = {"baseline": [], "steered": [], "prompted": []}
    for prompt in PROMPTS:
        for seed in seeds:
            # Each column by its own plain run: baseline and steered together, the prompted
            # column as a run of the instructed prompt.
            two = generate(session, GenerationRequest(prompt, [spec], max_new_tokens=6,
                                                      temperature=1.1, seed=seed))
            one = generate(session, GenerationRequest(instructed_prompt(INSTR, prompt),
                                                      max_new_tokens=6, temperature=1.1,
                                                      seed=seed))
            pids = tok(prompt)["input_ids"]
            for kind, row, ids in (("baseline", two.rows[0], pids), ("steered", two.rows[1], pids),
                                   ("prompted", one.rows[0],
                                    tok(instructed_prompt(INSTR, prompt))["input_ids"])):
                new = [t.token_id for t in row.tokens if not t.finished]
                texts[kind].append(row.text)
                ppls[kind].append(_hand_ppl(session, ids, new))
    assert [c.column for c in out.columns] == ["baseline", "steered", "prompted"]
    assert out.columns[2].name == "prompted: " + INSTR
    for c in out.columns:
        want_ppl = [p for p in ppls[c.column] if p is not None]
        assert c.samples == len(PROMPTS) * len(seeds)
        assert c.reached == sum(stub_judge(texts[c.column])) / c.samples
        assert c.perplexity_mean == pytest.approx(statistics.fmean(want_ppl), rel=1e-4)
        assert c.perplexity_median == pytest.approx(statistics.median(want_ppl), rel=1e-4)
        assert [s.text for s in out.samples if s.column == c.column] == texts[c.column]


def test_without_a_prompted_instruction_there_are_two_columns(session):
    out = evaluate(session, SteeringSpec([FeatureSteer(3, 30.0)]), None, PROMPTS[:1],
                   stub_judge, max_new_tokens=3)
    assert [c.column for c in out.columns] == ["baseline", "steered"]


def test_prompts_file_problems_name_the_file(tmp_path):
    with pytest.raises(InputError, match="no such prompts file"):
        read_prompts(tmp_path / "none.txt")
    (tmp_path / "empty.txt").write_text("\n  \n")
    with pytest.raises(InputError, match="empty.txt: has no prompts"):
        read_prompts(tmp_path / "empty.txt")
    (tmp_path / "p.txt").write_text(" a b \n\nc\n")
    assert read_prompts(tmp_path / "p.txt") == ["a b", "c"]
