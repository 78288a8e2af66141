"""Rules on a TopK SAE. A TopK feature's activation is its own relu'd pre-activation or 0 (0
where it is not among the k largest, which needs every pre-activation to know). On the CPU the
gates read the condition's own column first and take the full read only where the condition
reads differently for the two values. Checked here against a hand reference that always does
the full encode, on a run that meets all three cases: the feature held; it was above the
threshold before the top-k but not kept (only the full read can say it does not hold); and it
was below the threshold (the column alone decides)."""

import pytest
import torch

from steerdesk.engine.generation import GenerationRequest, generate
from steerdesk.engine.rule_gates import RuleGates
from steerdesk.engine.rules import FeatureCondition, Rule
from steerdesk.engine.steering import FeatureSteer, SteeringSpec
from steerdesk.testing.tiny import make_sae

PROMPT = "the quick brown fox jumps"
N_NEW, ACT, STRENGTH = 14, 9, 6.0


@pytest.fixture
def topk_session(llama_lm, tmp_path):
    from steerdesk.engine.sae import load_sae
    from steerdesk.engine.session import attach_sae

    d = make_sae(tmp_path / "topk", d_in=32, d_sae=64, arch="topk", k=4,
                 hook="blocks.1.hook_resid_post", seed=3)
    return attach_sae(llama_lm, load_sae(d), sae_path=d)


def _reference(session, cond: int, thr: float, strength: float):
    """(tokens, held positions, per read: every feature's pre-activation relu'd and its full
    TopK activation) of one row whose rule adds ACT at t+1 when `cond` > thr at t."""
    model, sae = session.model, session.sae
    ids = list(session.tokenizer(PROMPT)["input_ids"])
    p = len(ids)
    row = sae.W_dec[ACT] * strength * sae.model_space_scale()
    steered: set[int] = set()
    reads: list[tuple[torch.Tensor, torch.Tensor]] = []

    def hook(hidden):
        x = hidden[0, -1].to(sae.dtype)
        xs = x - sae.b_dec                                      # this SAE: no normalisation
        reads.append((torch.relu(xs @ sae.W_enc + sae.b_enc), sae.encode(x)))
        mask = torch.zeros(hidden.shape[1], 1)
        mask[[t for t in steered if t < hidden.shape[1]]] = 1.0
        return hidden + mask * row

    tokens, held = [], []
    with session.hook.installed(hook), torch.inference_mode():
        for _ in range(N_NEW):
            logits = model(input_ids=torch.tensor([ids]), use_cache=False).logits[0, -1]
            t = len(ids) - 1
            if float(reads[-1][1][cond]) > thr:
                held.append(t - p)
                steered.add(t + 1)
            tokens.append(int(logits.argmax()))
            ids.append(tokens[-1])
        model(input_ids=torch.tensor([ids]), use_cache=False)   # the last token's own read
        if float(reads[-1][1][cond]) > thr:
            held.append(len(ids) - 1 - p)
    return tokens, held, reads


def _three_cases(session) -> tuple[int, float]:
    """A feature and a threshold for which the baseline run meets all three cases."""
    _, _, reads = _reference(session, 0, float("inf"), 0.0)
    for f in range(session.sae.d_sae):
        kept = sorted(float(a[f]) for _, a in reads if a[f] > 0)
        if not kept:
            continue
        thr = kept[0] / 2
        if any(c[f] > thr and a[f] == 0 for c, a in reads) and any(c[f] <= thr for c, _ in reads):
            return f, thr
    pytest.fail("no feature of this tiny TopK SAE meets the three cases")


def test_topk_condition_reads_the_full_encode_where_membership_matters(topk_session):
    s = topk_session
    cond, thr = _three_cases(s)
    for strength in (0.0, STRENGTH):   # a probe (steers nothing), then a steering rule
        rule = Rule(FeatureCondition(cond, ">", thr), (FeatureSteer(ACT, strength),))
        res = generate(s, GenerationRequest(PROMPT, variants=[SteeringSpec(rules=[rule])],
                                            max_new_tokens=N_NEW, stop_at_eos=False,
                                            watch=[ACT]))
        tokens, held, reads = _reference(s, cond, thr, strength)
        got = res.rows[1].tokens
        assert [t.token_id for t in got] == tokens
        assert [i for i, t in enumerate(got) if t.rules_held == [0]] == [h for h in held
                                                                          if h >= 0]
        assert held
        # all three cases were met in this very run
        assert any(c[cond] > thr and a[cond] == 0 for c, a in reads)
        assert any(c[cond] <= thr for c, _ in reads)
    assert RuleGates(s.sae, [SteeringSpec(rules=[rule])]).if_active is not None  # the cheap path


def test_the_cheap_path_reads_the_column_the_full_encode_keeps_or_zeroes(topk_session):
    """subset_if_active is relu(pre) of each feature: equal to the full encode where the
    feature is kept, and 0 there where it is not."""
    sae = topk_session.sae
    x = torch.randn(5, 32)
    idx = torch.tensor([0, 7, 33, 63])
    cand, full = sae.subset_if_active(idx)(x), sae.encode(x)[:, idx]
    xs = x - sae.b_dec
    assert torch.allclose(cand, torch.relu(xs @ sae.W_enc + sae.b_enc)[:, idx], atol=1e-6)
    kept = full > 0
    assert torch.equal(cand[kept], full[kept]) and (full[~kept] == 0).all()
    assert (cand[~kept] > 0).any()   # some were active before the top-k and not kept


@pytest.mark.parametrize("arch", ["relu", "jumprelu", "gated"])
def test_elsewhere_the_cheap_read_is_the_subset_encode(tmp_path, arch):
    """Architectures that compute one feature alone give its activation itself."""
    from steerdesk.engine.sae import load_sae

    sae = load_sae(make_sae(tmp_path / arch, d_in=32, d_sae=64, arch=arch))
    x, idx = torch.randn(5, 32), torch.tensor([3, 40])
    assert torch.equal(sae.subset_if_active(idx)(x), sae.encode_subset(x, idx))
    assert torch.allclose(sae.subset_if_active(idx)(x), sae.encode(x)[:, idx], atol=1e-6)
