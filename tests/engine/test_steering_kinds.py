"""Steering for every SAE kind: relu, jumprelu, gated and topk, each with no input
normalisation, `scale`, `layer_norm` and `constant_norm_rescale`.

The reference encode and decode below are written from each architecture's definition
(SAELens's `process_sae_in` / `encode` / `decode` and its run-time normalisations), not taken
from steerdesk. Steering is measured where it matters: on the hidden state the next block
receives, captured with a hook on that block's input.
"""

import math

import pytest
import torch
from hooking import installed, module_hook

from steerdesk.engine.generation import GenerationRequest, generate
from steerdesk.engine.hooks import resolve_hook
from steerdesk.engine.sae.base import SAE, SAEConfig
from steerdesk.engine.session import attach_sae
from steerdesk.engine.steering import FeatureSteer, SteeringSpec
from steerdesk.testing.tiny import make_sae_tensors

ARCHS = ("relu", "jumprelu", "gated", "topk")
NORMS = ("none", "scale", "layer_norm", "constant_norm_rescale")
KINDS = [(a, n) for a in ARCHS for n in NORMS]
D, F, K = 32, 48, 6
INPUT_SCALE = 0.5
PROMPT = "the quick brown fox"


# ---- the reference, from the definitions ------------------------------------------------
class Ref:
    def __init__(self, arch: str, norm: str, t: dict, apply_b_dec: bool = True):
        self.arch, self.norm, self.t, self.apply_b_dec = arch, norm, t, apply_b_dec

    def normalise(self, x):
        """(x in SAE space, (mult, shift)) with model space = SAE space * mult + shift."""
        if self.norm == "none":
            return x, (1.0, 0.0)
        if self.norm == "scale":
            return x * INPUT_SCALE, (1.0 / INPUT_SCALE, 0.0)
        if self.norm == "constant_norm_rescale":
            # A zero vector (BOS after a block that maps it to 0) has no direction: its norm
            # counts as 1e-12 rather than giving 0/0.
            coeff = math.sqrt(D) / x.norm(dim=-1, keepdim=True).clamp_min(1e-12)
            return x * coeff, (1.0 / coeff, 0.0)
        mu = x.mean(dim=-1, keepdim=True)
        std = (x - mu).std(dim=-1, keepdim=True)          # unbiased, as torch.std
        return (x - mu) / (std + 1e-5), (std, mu)

    def pre(self, x):
        xn, _ = self.normalise(x)
        return xn - self.t["b_dec"] if self.apply_b_dec else xn

    def encode(self, x):
        t, xs = self.t, self.pre(x)
        if self.arch == "gated":
            gate = (xs @ t["W_enc"] + t["b_gate"]) > 0
            mag = torch.relu(xs @ (t["W_enc"] * t["r_mag"].exp()) + t["b_mag"])
            return gate.float() * mag
        pre = xs @ t["W_enc"] + t["b_enc"]
        if self.arch == "relu":
            return torch.relu(pre)
        if self.arch == "jumprelu":
            return torch.relu(pre) * (pre > t["threshold"]).float()
        top = pre.topk(K, dim=-1)
        return torch.zeros_like(pre).scatter(-1, top.indices, torch.relu(top.values))

    def decode(self, acts, x):
        _, (mult, shift) = self.normalise(x)
        return (acts @ self.t["W_dec"] + self.t["b_dec"]) * mult + shift

    def clamp(self, x, index, value):
        """decode(a with a_index = value) + (x - decode(a)): only feature `index` changes."""
        a = self.encode(x)
        pinned = a.clone()
        pinned[..., index] = value
        return self.decode(pinned, x) + (x - self.decode(a, x))

    def add(self, x, index, strength):
        """x + strength * W_dec[index], mapped to the model's space by the constant scale
        where the SAE has one (per-token normalisations add the row as it is)."""
        mult = 1.0 / INPUT_SCALE if self.norm == "scale" else 1.0
        return x + strength * self.t["W_dec"][index] * mult


def _tensors(arch: str, seed: int = 5) -> dict:
    t = make_sae_tensors(D, F, arch, seed=seed)
    if arch == "jumprelu":   # thresholds that cut through the bulk of the pre-activations
        t["threshold"] = torch.rand(F, generator=torch.Generator().manual_seed(seed)) * 0.8
    return t


def _sae(arch: str, norm: str, t: dict, hook: str = "blocks.0.hook_resid_post",
         apply_b_dec: bool = True) -> SAE:
    cfg = SAEConfig(architecture=arch, d_in=D, d_sae=F, k=K if arch == "topk" else None,
                    normalize_activations=norm, input_scale=INPUT_SCALE, hook_name=hook,
                    apply_b_dec_to_input=apply_b_dec)
    return SAE(cfg, t)


def _close(got, want, tol=1e-4):
    assert got.shape == want.shape, (got.shape, want.shape)
    err = (got - want).abs().max().item()
    assert err <= tol * max(1.0, want.abs().max().item()), f"max abs error {err}"


# ---- the SAE alone ---------------------------------------------------------------------
@pytest.mark.parametrize("apply_b_dec", [True, False])
@pytest.mark.parametrize("arch, norm", KINDS)
def test_encode_subset_and_encode_follow_the_definition(arch, norm, apply_b_dec):
    t = _tensors(arch)
    sae, ref = _sae(arch, norm, t, apply_b_dec=apply_b_dec), Ref(arch, norm, t, apply_b_dec)
    g = torch.Generator().manual_seed(2)
    x = torch.randn(3, 7, D, generator=g) * 3.0 + 0.4
    # Quiet vectors too (a residual stream near BOS): there layer_norm's eps shows.
    x[0] *= 1e-4
    want = ref.encode(x)
    on = (want > 0).float().mean().item()
    assert 0 < on < 1, "degenerate test data: every feature on, or none"
    _close(sae.encode(x), want)
    idx = torch.tensor([F - 1, 0, 17, 5, 30])
    _close(sae.encode_subset(x, idx), sae.encode(x)[..., idx])
    _close(sae.reconstruct(x), ref.decode(want, x))
    # The test data reaches the part of each definition that a wrong encode would skip.
    xs = ref.pre(x)
    if arch == "jumprelu":
        pre = xs @ t["W_enc"] + t["b_enc"]
        assert ((pre > 0) & (pre <= t["threshold"])).any()
    if arch == "gated":
        gate_shut = (xs @ t["W_enc"] + t["b_gate"]) <= 0
        assert (gate_shut & (xs @ (t["W_enc"] * t["r_mag"].exp()) + t["b_mag"] > 0)).any()
    if arch == "topk":
        assert ((xs @ t["W_enc"] + t["b_enc"] > 0).sum(-1) > K).any()


@pytest.mark.parametrize("arch", ARCHS)
def test_the_last_clamp_of_a_feature_in_a_variant_wins(arch):
    from steerdesk.engine.steering import SteeringHook

    t = _tensors(arch)
    sae, ref = _sae(arch, "layer_norm", t), Ref(arch, "layer_norm", t)
    hook = SteeringHook(sae, [SteeringSpec([FeatureSteer(3, 1.0, "clamp"),
                                            FeatureSteer(3, 4.0, "clamp")])])
    x = torch.randn(2, 5, D, generator=torch.Generator().manual_seed(9))
    _close(hook(x)[1], ref.clamp(x[1], 3, 4.0))


def test_topk_never_reports_a_negative_activation():
    """Top-k of the pre-activations, then ReLU: where fewer than k are positive, the rest of
    the k are 0, not negative."""
    t = _tensors("topk")
    t["b_enc"] = t["b_enc"] - 2.0
    sae, ref = _sae("topk", "layer_norm", t), Ref("topk", "layer_norm", t)
    x = torch.randn(4, 6, D, generator=torch.Generator().manual_seed(8))
    assert ((ref.pre(x) @ t["W_enc"] + t["b_enc"] > 0).sum(-1) < K).any()
    acts = sae.encode(x)
    assert (acts >= 0).all()
    _close(acts, ref.encode(x))


@pytest.mark.parametrize("norm", NORMS)
def test_decoder_rows_are_one_unit_of_a_feature_in_model_space(norm):
    t = _tensors("relu")
    sae, ref = _sae("relu", norm, t), Ref("relu", norm, t)
    x = torch.randn(2, 4, D, generator=torch.Generator().manual_seed(3)) * 2.0
    _, state = sae.encode_with_state(x)
    idx = torch.tensor([4, 9])
    rows = sae.decoder_rows(idx, state)
    for c, i in enumerate(idx.tolist()):
        one = torch.zeros(F)
        one[i] = 1.0
        want = ref.decode(one.expand(*x.shape[:-1], F), x) - ref.decode(torch.zeros(F), x)
        got = rows[..., c, :] if rows.dim() == 4 else rows[c].expand_as(want)
        _close(got, want)


# ---- steering in a model: what the next block receives ----------------------------------
@pytest.fixture(scope="module")
def lm(tmp_path_factory):
    from steerdesk.engine.models import load_model
    from steerdesk.testing.tiny import make_model

    return load_model(make_model(tmp_path_factory.mktemp("kinds"), "llama", d=D, layers=2),
                      device="cpu")


def _first(args, kwargs):
    return args[0] if args else kwargs["hidden_states"]


def _run_and_capture(session, request):
    """Generate, recording at every forward pass the SAE's input before steering (block 0's
    output, ahead of the steering hook) and what block 1 receives."""
    before, after = [], []
    block0 = session.hook.module
    block1 = resolve_hook(session.model, "blocks.1.hook_resid_pre").module

    def grab_out(module, args, out):
        before.append((out[0] if isinstance(out, tuple) else out).detach().clone())

    def grab_in(module, args, kwargs):
        after.append(_first(args, kwargs).detach().clone())

    with module_hook(block0, grab_out, prepend=True), \
            module_hook(block1, grab_in, pre=True, with_kwargs=True):
        result = generate(session, request)
    return result, before, after


def _active_features(session, ref):
    """Two features that fire on the prompt's last token, by the reference encode."""
    seen = []
    ids = session.tokenizer(PROMPT)["input_ids"]
    with installed(session.hook, lambda h: seen.append(h.detach().clone())), torch.no_grad():
        session.model(input_ids=torch.tensor([ids]))
    acts = ref.encode(seen[0][0, -1])
    top = acts.topk(2)
    assert (top.values > 0).all(), "the prompt lights up fewer than two features"
    return top.indices.tolist()


@pytest.mark.parametrize("arch, norm", KINDS)
def test_add_clamp_and_ablate_reach_the_next_block_as_defined(lm, arch, norm):
    t = _tensors(arch)
    session = attach_sae(lm, _sae(arch, norm, t))
    ref = Ref(arch, norm, t)
    i, j = _active_features(session, ref)
    s_add, target, s_mix = 3.0, 4.0, -2.0
    variants = [SteeringSpec([FeatureSteer(i, s_add, "add")]),
                SteeringSpec([FeatureSteer(i, target, "clamp")]),
                SteeringSpec([FeatureSteer(j, 7.0, "ablate")]),   # a strength means nothing
                SteeringSpec([FeatureSteer(j, s_mix, "add"), FeatureSteer(i, target, "clamp")])]
    steer = [lambda x: x,
             lambda x: ref.add(x, i, s_add),
             lambda x: ref.clamp(x, i, target),
             lambda x: ref.clamp(x, j, 0.0),
             lambda x: ref.clamp(ref.add(x, j, s_mix), i, target)]
    # Each row's readout pins what that row clamps (and reads the rest off the steered state).
    pins = [{}, {}, {i: target}, {j: 0.0}, {i: target}]
    n_new, k_top = 3, 5
    request = GenerationRequest(PROMPT, variants, max_new_tokens=n_new, stop_at_eos=False,
                                watch=[i, j], top_k_features=k_top)
    result, before, after = _run_and_capture(session, request)
    assert len(before) == len(after) == 1 + n_new   # the prompt, then one pass per token
    rows = len(variants) + 1
    changed = [0.0] * rows
    for step, (x, y) in enumerate(zip(before, after)):
        assert x.shape[0] == y.shape[0] == rows
        for r in range(rows):
            want = steer[r](x[r])
            changed[r] = max(changed[r], (want - x[r]).abs().max().item())
            _close(y[r], want)
            # What the readout reports for this pass, against the reference encode of what
            # the model carries on with, with the clamped columns pinned.
            acts = ref.encode(y[r])
            for col, value in pins[r].items():
                acts[..., col] = value
            if step == 0:
                watched = torch.tensor(result.rows[r].prompt_activations)
                tops = result.rows[r].prompt_top_features
            else:
                tok = result.rows[r].tokens[step - 1]
                watched, tops = torch.tensor([tok.activations]), [tok.top_features]
            _close(watched, acts[..., [i, j]].reshape(watched.shape))
            best = acts.reshape(-1, F).topk(k_top, dim=-1)
            for pos, top in enumerate(tops):
                values = [v for _, v in top]
                assert values == pytest.approx(best.values[pos].tolist(), rel=1e-4, abs=1e-4)
                on = {c for c, v in top if v > 1e-6}
                assert on == {c for c, v in zip(best.indices[pos].tolist(),
                                                best.values[pos].tolist()) if v > 1e-6}
    assert changed[0] == 0 and min(changed[1:]) > 1e-2, f"a variant changed nothing: {changed}"
