"""SAELens folders: each architecture against SAELens's own encode, and save/load round trips."""

from __future__ import annotations

import json

import pytest
import torch
from safetensors.torch import save_file

from steerdesk.engine.sae import load_sae
from steerdesk.engine.sae.base import SAE, SAEConfig
from steerdesk.engine.sae.fmt_saelens import save_saelens

K = 5


def weights(kit, arch):
    d, F = kit.d_in, kit.d_sae
    t = {"W_enc": kit.randn(d, F, scale=0.4), "W_dec": kit.randn(F, d, scale=0.4),
         "b_dec": kit.randn(d)}
    if arch == "gated":
        t.update(b_gate=kit.randn(F, scale=0.3), b_mag=kit.randn(F, scale=0.3),
                 r_mag=kit.randn(F, scale=0.3))
    else:
        t["b_enc"] = kit.randn(F, scale=0.3)
    if arch == "jumprelu":
        t["threshold"] = torch.rand(F, generator=kit.gen) + 0.3
    return t


def write(folder, t, cfg):
    folder.mkdir(parents=True, exist_ok=True)
    save_file(t, str(folder / "sae_weights.safetensors"))
    (folder / "cfg.json").write_text(json.dumps(cfg))


def reference(arch, t, x):
    """SAELens 6 encode for each architecture (apply_b_dec_to_input=True, no normalisation)."""
    xs = x - t["b_dec"]
    if arch == "gated":
        gate = (xs @ t["W_enc"] + t["b_gate"]) > 0
        return gate * torch.relu(xs @ (t["W_enc"] * t["r_mag"].exp()) + t["b_mag"])
    pre = xs @ t["W_enc"] + t["b_enc"]
    if arch == "standard":
        return torch.relu(pre)
    if arch == "jumprelu":
        return torch.relu(pre) * (pre > t["threshold"])
    top = pre.topk(K, dim=-1)
    return torch.zeros_like(pre).scatter(-1, top.indices, torch.relu(top.values))


@pytest.mark.parametrize("arch", ["standard", "jumprelu", "topk", "gated"])
def test_each_architecture_matches_saelens(tmp_path, kit, arch):
    t = weights(kit, arch)
    cfg = {"architecture": arch, "d_in": kit.d_in, "d_sae": kit.d_sae, "dtype": "float32",
           "apply_b_dec_to_input": True, "normalize_activations": "none",
           "metadata": {"hook_name": "blocks.4.hook_resid_post", "model_name": "gpt2"}}
    if arch == "topk":
        cfg["k"] = K
    write(tmp_path, t, cfg)
    sae = load_sae(tmp_path)
    x = kit.inputs()
    want = reference(arch, t, x)
    kit.assert_mixed(want)
    kit.assert_close(sae.encode(x), want)
    kit.assert_close(sae.reconstruct(x), want @ t["W_dec"] + t["b_dec"])
    assert sae.cfg.hook_name == "blocks.4.hook_resid_post" and sae.cfg.model_name == "gpt2"


def test_legacy_log_threshold_and_flat_pre_6_config(tmp_path, kit):
    t = weights(kit, "jumprelu")
    stored = {k: v for k, v in t.items() if k != "threshold"}
    stored["log_threshold"] = t["threshold"].log()
    write(tmp_path, stored, {"architecture": "jumprelu", "d_in": kit.d_in, "d_sae": kit.d_sae,
                             "hook_point": "blocks.1.hook_resid_pre"})
    sae = load_sae(tmp_path)
    x = kit.inputs()
    kit.assert_close(sae.encode(x), reference("jumprelu", t, x))
    assert sae.cfg.hook_name == "blocks.1.hook_resid_pre"


def test_pre_6_topk_written_as_standard_with_topk_activation(tmp_path, kit):
    t = weights(kit, "topk")
    write(tmp_path, t, {"architecture": "standard", "d_in": kit.d_in, "d_sae": kit.d_sae,
                        "activation_fn_str": "topk", "activation_fn_kwargs": {"k": K}})
    x = kit.inputs()
    kit.assert_close(load_sae(tmp_path).encode(x), reference("topk", t, x))


def random_sae(kit, arch, **cfg):
    t = weights(kit, {"relu": "standard"}.get(arch, arch))
    return SAE(SAEConfig(architecture=arch, d_in=kit.d_in, d_sae=kit.d_sae,
                         k=K if arch == "topk" else None, hook_name="blocks.2.hook_resid_post",
                         **cfg), t)


@pytest.mark.parametrize("arch", ["relu", "jumprelu", "topk", "gated"])
@pytest.mark.parametrize("norm", [
    {}, {"normalize_activations": "scale", "input_scale": 0.37},
    {"normalize_activations": "layer_norm"}, {"normalize_activations": "constant_norm_rescale"},
    {"apply_b_dec_to_input": False, "normalize_activations": "scale", "input_scale": 2.5},
])
def test_round_trip_encodes_identically(tmp_path, kit, arch, norm):
    sae = random_sae(kit, arch, **norm)
    density = torch.rand(kit.d_sae, generator=kit.gen) * 0.1 + 1e-4
    back = load_sae(save_saelens(sae, tmp_path / "out", density=density))
    x = kit.inputs() * 4.0
    want = sae.encode(x)
    kit.assert_mixed(want)
    kit.assert_close(back.encode(x), want)
    kit.assert_close(back.reconstruct(x), sae.reconstruct(x), atol=1e-4)
    kit.assert_close(back.feature_density, density)
    assert back.cfg.hook_name == "blocks.2.hook_resid_post" and back.cfg.architecture == arch


def test_llama_scope_sae_saved_as_saelens_encodes_identically(tmp_path, kit):
    d, F = kit.d_in, kit.d_sae
    (tmp_path / "ls" / "checkpoints").mkdir(parents=True)
    save_file({"encoder.weight": kit.randn(F, d, scale=0.4), "encoder.bias": kit.randn(F),
               "decoder.weight": kit.randn(d, F, scale=0.3), "decoder.bias": kit.randn(d)},
              str(tmp_path / "ls" / "checkpoints" / "final.safetensors"))
    (tmp_path / "ls" / "hyperparams.json").write_text(json.dumps({
        "d_model": d, "d_sae": F, "hook_point_in": "blocks.3.hook_resid_post",
        "act_fn": "jumprelu", "jump_relu_threshold": 0.5, "norm_activation": "dataset-wise",
        "dataset_average_activation_norm": {"in": 11.0, "out": 11.0}}))
    original = load_sae(tmp_path / "ls")
    assert original.cfg.normalize_activations == "scale"
    back = load_sae(save_saelens(original, tmp_path / "saelens"))
    x = kit.inputs() * 3.0
    kit.assert_mixed(original.encode(x))
    kit.assert_close(back.encode(x), original.encode(x))
    kit.assert_close(back.reconstruct(x), original.reconstruct(x), atol=1e-4)
    assert back.cfg.normalize_activations == "none"  # folded into the weights
