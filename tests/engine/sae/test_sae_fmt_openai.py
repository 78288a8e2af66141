"""OpenAI sparse_autoencoder .pt state dicts: v5 TopK with its layer norm, and ReLU ones."""

from __future__ import annotations

import pytest
import torch

from steerdesk.engine.errors import InputError, PickleRefused
from steerdesk.engine.sae import detect_format, load_sae

K = 7


def state_dict(kit, activation="TopK", flat=False):
    n, d = kit.d_sae, kit.d_in
    sd = {"pre_bias": kit.randn(d, scale=0.3), "encoder.weight": kit.randn(n, d, scale=0.4),
          "latent_bias": kit.randn(n, scale=0.3), "decoder.weight": kit.randn(d, n, scale=0.4),
          "stats_last_nonzero": torch.zeros(n, dtype=torch.long),
          "latents_activation_frequency": torch.ones(n),
          "latents_mean_square": torch.zeros(n), "activation": activation}
    if activation == "TopK":
        if flat:
            sd.update({"activation_state_dict.k": K, "activation_state_dict.postact_fn": "ReLU"})
        else:
            sd["activation_state_dict"] = {"k": K, "postact_fn": "ReLU"}
    else:
        sd["activation_state_dict"] = {}
    return sd


def reference(sd, x):
    """sparse_autoencoder/model.py: LN (TopK only), relu/topk(encoder(x - pre_bias) +
    latent_bias), decoder(latents) + pre_bias, then * std + mu."""
    normalize = sd["activation"] == "TopK"
    if normalize:
        mu = x.mean(dim=-1, keepdim=True)
        xc = x - mu
        std = xc.std(dim=-1, keepdim=True)
        x = xc / (std + 1e-5)
    pre = (x - sd["pre_bias"]) @ sd["encoder.weight"].T + sd["latent_bias"]
    if normalize:
        top = torch.topk(pre, k=K, dim=-1)
        latents = torch.zeros_like(pre).scatter_(-1, top.indices, torch.relu(top.values))
    else:
        latents = torch.relu(pre)
    recons = latents @ sd["decoder.weight"].T + sd["pre_bias"]
    if normalize:
        recons = recons * std + mu
    return latents, recons


@pytest.mark.parametrize("activation, flat, scale", [
    ("TopK", False, 3.0), ("TopK", True, 3.0), ("ReLU", False, 3.0),
    ("TopK", False, 1e-3),  # a tiny std makes the layer norm's eps (1e-5) visible
])
def test_encode_and_reconstruct_match_openai(tmp_path, kit, activation, flat, scale):
    sd = state_dict(kit, activation, flat)
    torch.save(sd, tmp_path / "sae.pt")
    sae = load_sae(tmp_path / "sae.pt", allow_pickle=True)
    x = kit.inputs() * scale
    latents, recons = reference(sd, x)
    kit.assert_mixed(latents)
    kit.assert_close(sae.encode(x), latents)
    kit.assert_close(sae.reconstruct(x) / scale, recons / scale, atol=1e-4)
    want_norm = "layer_norm" if activation == "TopK" else "none"
    assert sae.cfg.normalize_activations == want_norm


def test_hook_from_the_released_path(tmp_path, kit):
    folder = tmp_path / "resid_post_mlp_v5_32k" / "autoencoders"
    folder.mkdir(parents=True)
    torch.save(state_dict(kit), folder / "6.pt")
    assert detect_format(folder / "6.pt") == "openai"
    assert load_sae(folder / "6.pt", allow_pickle=True).cfg.hook_name == "blocks.6.hook_resid_post"
    other = tmp_path / "mine.pt"
    torch.save(state_dict(kit), other)
    assert load_sae(other, allow_pickle=True).cfg.hook_name is None


def test_pickle_needs_the_users_yes(tmp_path, kit):
    torch.save(state_dict(kit), tmp_path / "sae.pt")
    with pytest.raises(PickleRefused, match=r"sae\.pt.*pickle"):
        load_sae(tmp_path / "sae.pt")


@pytest.mark.parametrize("change, problem", [
    (lambda sd: sd.update(activation="Identity"), "'Identity' is not supported"),
    (lambda sd: sd.pop("latent_bias"), "'latent_bias' is missing"),
    (lambda sd: sd.update(activation_state_dict={"k": 0, "postact_fn": "ReLU"}), "k"),
    (lambda sd: sd.update(activation_state_dict={"k": K, "postact_fn": "Identity"}),
     "postact_fn 'Identity'"),
])
def test_bad_state_dicts_are_named(tmp_path, kit, change, problem):
    sd = state_dict(kit)
    change(sd)
    torch.save(sd, tmp_path / "sae.pt")
    with pytest.raises(InputError, match=rf"sae\.pt.*{problem}"):
        load_sae(tmp_path / "sae.pt", allow_pickle=True)
