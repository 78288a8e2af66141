"""Rules at work in generation, checked against a hand-written reference: a one-row greedy
loop that recomputes the whole sequence every step, reads the condition feature on the
activation as it reaches the hook at the last position, and adds the action's decoder row at
the positions its own schedule says (held at t: steer t+1 .. t+N)."""

import pytest
import torch

from steerdesk.engine.errors import InputError
from steerdesk.engine.generation import GenerationRequest, generate
from steerdesk.engine.rules import FeatureCondition, Rule, parse_rule
from steerdesk.engine.steering import FeatureSteer, SteeringSpec

PROMPT = "the quick brown fox jumps"
N_NEW = 14
COND, ACT, STRENGTH = 12, 9, 6.0


def _run(session, variants, **kw):
    kw.setdefault("max_new_tokens", N_NEW)
    kw.setdefault("stop_at_eos", False)
    return generate(session, GenerationRequest(PROMPT, variants=variants, **kw))


def _reference(session, threshold: float, span: int, steer: bool = True, act: int = ACT,
               strength: float = STRENGTH):
    """(tokens, logprobs, held positions, steered positions) of one row, by hand."""
    model, sae = session.model, session.sae
    ids = list(session.tokenizer(PROMPT)["input_ids"])
    p = len(ids)
    row = sae.W_dec[act] * strength * sae.model_space_scale()
    steered: set[int] = set()
    held: list[int] = []
    seen: dict[int, float] = {}

    def hook(hidden):
        seen["a"] = float(sae.encode_subset(hidden[:, -1:], torch.tensor([COND]))[0, 0, 0])
        if not steer or not steered:
            return None
        mask = torch.zeros(hidden.shape[1], 1)
        mask[[t for t in steered if t < hidden.shape[1]]] = 1.0
        return hidden + mask * row

    tokens, logprobs = [], []
    with session.hook.installed(hook), torch.inference_mode():
        for _ in range(N_NEW):
            logits = model(input_ids=torch.tensor([ids]), use_cache=False).logits[0, -1]
            t = len(ids) - 1
            if seen["a"] > threshold:
                held.append(t)
                steered.update(range(t + 1, t + 1 + span))
            tok = int(logits.argmax())
            tokens.append(tok)
            logprobs.append(float(torch.log_softmax(logits.float(), -1)[tok]))
            ids.append(tok)
        model(input_ids=torch.tensor([ids]), use_cache=False)   # the last token's hold
        if seen["a"] > threshold:
            held.append(len(ids) - 1)
    return tokens, logprobs, [t - p for t in held], sorted(t - p for t in steered if t < len(ids))


def _threshold(session) -> float:
    """Between two of the baseline's values of the condition feature at the prompt's last
    token and the new ones: it holds at some positions and not at others."""
    res = _run(session, [], watch=[COND])
    values = sorted({res.rows[0].prompt_activations[-1][0],
                     *(t.activations[0] for t in res.rows[0].tokens)})
    assert len(values) > 4
    mid = len(values) // 2
    return (values[mid - 1] + values[mid]) / 2


@pytest.mark.parametrize("for_tokens", [None, 1, 2, 3])
def test_rule_steers_exactly_the_positions_after_each_hold(session, for_tokens):
    """The rule pushes its own condition feature down, so holds come and go and each span
    gives its own schedule (here: span 1 holds at 0-2 and 10-12, span 2 only at 0-2)."""
    thr = _threshold(session)
    rule = Rule(FeatureCondition(COND, ">", thr), (FeatureSteer(COND, -1.0),),
                for_tokens=for_tokens)
    res = _run(session, [SteeringSpec(rules=[rule])], watch=[ACT])   # every token's pass runs
    tokens, logprobs, held, steered = _reference(session, thr, rule.span, act=COND,
                                                 strength=-1.0)
    got = res.rows[1].tokens
    assert [t.token_id for t in got] == tokens
    assert [t.logprob for t in got] == pytest.approx(logprobs, abs=1e-4)
    # positions: -1 is the prompt's last token, i the position token i is fed at
    assert [i for i, t in enumerate(got) if t.rules_held == [0]] == [h for h in held if h >= 0]
    assert [i for i, t in enumerate(got) if t.rules_acting == [0]] == steered
    assert held and steered and len(steered) < N_NEW     # it fired, and not everywhere
    plain, _, _, _ = _reference(session, thr, rule.span, steer=False, act=COND)
    assert tokens != plain                               # and the steering changed the text


def test_without_a_readout_the_last_token_is_not_read(session):
    """No readout: the last token's forward pass is not run (as without rules), so its
    conditions are not read; which rules steer it is known all the same."""
    thr = _threshold(session)
    spec = SteeringSpec(rules=[Rule(FeatureCondition(COND, ">", thr), (FeatureSteer(ACT, 6.0),),
                                    for_tokens=2)])
    read = _run(session, [spec], watch=[ACT]).rows[1].tokens
    plain = _run(session, [spec]).rows[1].tokens
    assert [t.token_id for t in plain] == [t.token_id for t in read]
    assert [t.rules_acting for t in plain] == [t.rules_acting for t in read]
    assert [t.rules_held for t in plain[:-1]] == [t.rules_held for t in read[:-1]]
    assert plain[-1].rules_held == []


def test_never_true_rule_is_the_baseline_exactly(session):
    never = parse_rule(f"when {COND}<-1 then {ACT}=20,3=clamp:4")   # ReLU: never below 0
    for temperature in (0.0, 1.0):
        res = _run(session, [SteeringSpec(rules=[never])], temperature=temperature, seed=3,
                   watch=[ACT])
        base, ruled = res.rows[0].tokens, res.rows[1].tokens
        assert [t.token_id for t in ruled] == [t.token_id for t in base]
        assert [t.logprob for t in ruled] == [t.logprob for t in base]
        assert all(t.rules_held == [] and t.rules_acting == [] for t in ruled)


@pytest.mark.parametrize("action", [f"{ACT}=6", f"{ACT}=6,3=clamp:2", "3=ablate,11=-4"])
def test_always_true_rule_is_positions_generated_exactly(session, action):
    rule = parse_rule(f"when {COND}>-1 then {action}")
    fixed = SteeringSpec(list(rule.action))
    for temperature in (0.0, 0.8):
        a = _run(session, [SteeringSpec(rules=[rule])], temperature=temperature, seed=5,
                 watch=[3, ACT])
        b = _run(session, [fixed], temperature=temperature, seed=5, positions="generated",
                 watch=[3, ACT])
        assert [t.token_id for t in a.rows[1].tokens] == [t.token_id for t in b.rows[1].tokens]
        assert [t.logprob for t in a.rows[1].tokens] == [t.logprob for t in b.rows[1].tokens]
        assert [t.activations for t in a.rows[1].tokens] == \
            [t.activations for t in b.rows[1].tokens]
        assert all(t.rules_held == [0] and t.rules_acting == [0] for t in a.rows[1].tokens)
        # the baseline row is never touched by a variant's rule
        assert [(t.token_id, t.logprob, t.activations) for t in a.rows[0].tokens] == \
            [(t.token_id, t.logprob, t.activations) for t in b.rows[0].tokens]


def _first_hold(session, feature: int):
    """(threshold, i): the condition feature first exceeds the threshold at the position of
    baseline token i (i >= 1), and at no position before it (the prompt's last included)."""
    res = _run(session, [], watch=[feature])
    seq = [t.activations[0] for t in res.rows[0].tokens]
    best = res.rows[0].prompt_activations[-1][0]
    for i, v in enumerate(seq):
        if i >= 1 and v > best + 1e-4:
            return (best + v) / 2, i, res.rows[0].tokens
        best = max(best, v)
    pytest.skip("no new maximum in this tiny model's run")


def test_stop_ends_only_its_own_row(session):
    thr, i, base = _first_hold(session, COND)
    stop = parse_rule(f"when {COND}>{thr!r} then stop")
    never = parse_rule(f"when {COND}<-1 then stop")
    res = _run(session, [SteeringSpec(rules=[stop]), SteeringSpec(rules=[never])])
    stopped = res.rows[1].tokens
    assert [t.token_id for t in stopped] == [t.token_id for t in base[:i + 1]]
    assert stopped[-1].finished and stopped[-1].rules_held == [0]
    assert not any(t.finished for t in stopped[:-1])
    assert res.rows[1].text == "".join(t.text for t in base[:i + 1])
    assert len(res.rows[0].tokens) == len(res.rows[2].tokens) == N_NEW
    assert res.done.reason == "length"


def test_each_rule_reads_its_own_column(session):
    """A rule reads the activations of its own variant's row, wherever that row is in the
    batch: a probe rule (which steers nothing) holds at other positions in a steered column
    than in a plain one, and each column's pattern is the same alone as beside the other."""
    thr = _threshold(session)
    probe = Rule(FeatureCondition(COND, ">", thr), (FeatureSteer(ACT, 0.0),))
    plain = SteeringSpec(rules=[probe])
    steered = SteeringSpec([FeatureSteer(ACT, 3 * STRENGTH)], rules=[probe])

    def held(res, r):
        return [t.rules_held for t in res.rows[r].tokens]

    alone_plain, alone_steered = held(_run(session, [plain]), 1), held(_run(session, [steered]), 1)
    assert alone_plain != alone_steered          # the two columns can be told apart
    both = _run(session, [steered, plain])
    assert (held(both, 1), held(both, 2)) == (alone_steered, alone_plain)
    both = _run(session, [plain, steered])
    assert (held(both, 1), held(both, 2)) == (alone_plain, alone_steered)


def test_stop_at_the_prompt_gives_an_empty_row(session):
    res = _run(session, [SteeringSpec(rules=[parse_rule(f"when {COND}>-1 then stop")])])
    assert res.rows[1].tokens == [] and res.rows[1].text == ""
    assert len(res.rows[0].tokens) == N_NEW


def test_text_condition_holds_from_the_token_that_completes_the_match(session):
    base = _run(session, []).rows[0].tokens
    k = next(j for j in range(3, N_NEW) if base[j].text.strip())
    pattern = base[k].text.strip()
    so_far = ""
    first = None
    for j, t in enumerate(base):
        so_far += t.text
        if first is None and pattern in so_far:
            first = j
    import re
    rule = parse_rule(f"when text /{re.escape(pattern)}/ then {ACT}=6 for 2")
    stop = parse_rule(f"when text /{re.escape(pattern)}/ then stop")
    res = _run(session, [SteeringSpec(rules=[rule]), SteeringSpec(rules=[stop])])
    got = res.rows[1].tokens
    assert [t.token_id for t in got[:first + 2]] == [t.token_id for t in base[:first + 2]]
    assert got[first].rules_held == [0] and all(t.rules_held == [] for t in got[:first])
    assert got[first + 1].rules_acting == [0] and got[first + 2].rules_acting == [0]
    assert all(t.rules_acting == [] for t in got[:first + 1])
    assert [t.token_id for t in res.rows[2].tokens] == [t.token_id for t in base[:first + 1]]


def _classifier(tmp_path, pool: str):
    from steerdesk.engine.catalog.contrast_sets import Classifier

    clf = Classifier(names=["a", "b"], features=[COND, 7], weights=[1.5, -0.7],
                     center=[0.1, 0.2], scale=[0.5, 2.0], bias=-0.3, pool=pool, d_sae=64)
    path = tmp_path / f"clf_{pool}.json"
    clf.save(path)
    return clf, path


@pytest.mark.parametrize("pool", ["max", "mean"])
def test_classifier_condition_scores_the_pooled_positions(session, tmp_path, pool):
    clf, path = _classifier(tmp_path, pool)
    res = _run(session, [], watch=[COND, 7])
    row = res.rows[0]
    seq = [row.prompt_activations[-1]] + [t.activations for t in row.tokens]
    scores = []
    for n in range(1, len(seq) + 1):
        cols = torch.tensor(seq[:n])
        pooled = cols.max(0).values if pool == "max" else cols.mean(0)
        z = (pooled - torch.tensor(clf.center)) / torch.tensor(clf.scale)
        scores.append(float(torch.sigmoid(z @ torch.tensor(clf.weights) + clf.bias)))
    # a threshold the score first passes at position i >= 1 (seq index i + 1)
    order = sorted(set(scores))
    for thr in ((a + b) / 2 for a, b in zip(order, order[1:])):
        first = next(n for n, s in enumerate(scores) if s > thr) if max(scores) > thr else None
        if first is not None and first >= 2:
            break
    else:
        pytest.skip("the score never rises after the first tokens in this run")
    stop = parse_rule(f'when classifier "{path}">{thr!r} then stop')
    got = _run(session, [SteeringSpec(rules=[stop])]).rows[1].tokens
    assert [t.token_id for t in got] == [t.token_id for t in row.tokens[:first]]


def test_classifier_errors_name_the_file(session, tmp_path):
    missing = parse_rule(f'when classifier "{tmp_path / "nope.json"}">0.5 then stop')
    with pytest.raises(InputError, match="nope.json"):
        _run(session, [SteeringSpec(rules=[missing])])
    from steerdesk.engine.catalog.contrast_sets import Classifier

    path = tmp_path / "wide.json"
    Classifier(["a", "b"], [1], [1.0], [0.0], [1.0], 0.0, d_sae=999).save(path)
    with pytest.raises(InputError, match="wide.json.*999 features"):
        _run(session, [SteeringSpec(rules=[parse_rule(f'when classifier "{path}">0.5 then stop')])])


def test_x_max_condition_uses_the_catalog_max(session):
    base = _run(session, [], watch=[COND]).rows[0]
    session.max_acts = torch.full((64,), 2.0)
    thr_raw, i, _ = _first_hold(session, COND)
    stop = parse_rule(f"when {COND}>{thr_raw / 2.0!r}x then stop")
    got = _run(session, [SteeringSpec(rules=[stop])]).rows[1].tokens
    assert [t.token_id for t in got] == [t.token_id for t in base.tokens[:i + 1]]
    session.max_acts = None
    with pytest.raises(InputError, match="max activation"):
        _run(session, [SteeringSpec(rules=[stop])])


def test_fixed_features_and_rules_in_one_variant(session):
    """The fixed features steer every position; the rule adds on top where it acts: with an
    always-true rule this is the fixed features at all positions plus the rule's at the new
    ones, which is one variant steering ACT at all and 3 at the new positions only: compare with
    the same total by hand on the first new token's log-prob (its position is steered by both)."""
    rule = parse_rule(f"when {COND}>-1 then 3=4")
    spec = SteeringSpec([FeatureSteer(ACT, 5.0)], rules=[rule])
    never = SteeringSpec([FeatureSteer(ACT, 5.0)], rules=[parse_rule(f"when {COND}<-1 then 3=4")])
    res = _run(session, [spec, never, SteeringSpec([FeatureSteer(ACT, 5.0)])])
    assert [t.token_id for t in res.rows[2].tokens] == [t.token_id for t in res.rows[3].tokens]
    assert [t.logprob for t in res.rows[2].tokens] == [t.logprob for t in res.rows[3].tokens]
    # the first token comes from the prompt's pass: the rule has not acted yet
    assert res.rows[1].tokens[0].logprob == res.rows[3].tokens[0].logprob
    assert [t.logprob for t in res.rows[1].tokens[1:]] != [t.logprob for t in res.rows[3].tokens[1:]]
