"""Three SAELens behaviours steerdesk follows, each computed in the test from SAELens 6.54's
own definitions (sae_lens/saes/topk_sae.py and sae_lens/saes/sae.py):

- TopK with rescale_acts_by_decoder_norm: hidden_pre = (x - b_dec) @ W_enc + b_enc, scaled by
  each decoder row's norm; top-k of that (then ReLU); decode acts / |W_dec[i]| @ W_dec + b_dec.
- normalize_activations "covariance_whitening": folded into the weights when saved; at run time
  load_from_disk normalises nothing.
- "expected_average_only_in" with a norm_scaling_factor in cfg.json: load_from_disk applies no
  scaling (the factor is folded only by from_pretrained, from SAELens's registry).
"""

from __future__ import annotations

import json

import torch
from safetensors.torch import save_file

from steerdesk.engine.sae import load_sae


def write(folder, kit, arch="topk", **cfg):
    folder.mkdir(parents=True, exist_ok=True)
    d, F = kit.d_in, kit.d_sae
    t = {"W_enc": kit.randn(d, F), "b_enc": kit.randn(F, scale=0.2), "b_dec": kit.randn(d),
         # decoder rows of very different norms, so that rescaling changes the top-k
         "W_dec": kit.randn(F, d) * (torch.rand(F, 1, generator=kit.gen) * 5 + 0.05)}
    save_file(t, str(folder / "sae_weights.safetensors"))
    base = {"architecture": arch, "d_in": d, "d_sae": F, "apply_b_dec_to_input": True,
            "normalize_activations": "none", "k": 6,
            "metadata": {"hook_name": "blocks.0.hook_resid_post"}}
    (folder / "cfg.json").write_text(json.dumps({**base, **cfg}))
    return t


def saelens_topk(t, x, k, rescale):
    """TopKSAE.encode / decode as SAELens 6.54 writes them."""
    sae_in = x - t["b_dec"]
    hidden_pre = sae_in @ t["W_enc"] + t["b_enc"]
    norms = t["W_dec"].norm(dim=-1)
    if rescale:
        hidden_pre = hidden_pre * norms
    top = torch.topk(hidden_pre, k, dim=-1)
    acts = torch.zeros_like(hidden_pre).scatter_(-1, top.indices, torch.relu(top.values))
    dec_in = acts * (1 / norms) if rescale else acts
    return acts, dec_in @ t["W_dec"] + t["b_dec"]


def test_topk_rescaled_by_decoder_norm_matches_saelens(tmp_path, kit):
    t = write(tmp_path, kit, rescale_acts_by_decoder_norm=True)
    x = kit.inputs()
    want_acts, want_recon = saelens_topk(t, x, 6, rescale=True)
    plain_acts, _ = saelens_topk(t, x, 6, rescale=False)
    # the flag must matter for this test to mean anything
    assert not torch.equal((want_acts > 0), (plain_acts > 0))
    sae = load_sae(tmp_path)
    kit.assert_close(sae.encode(x), want_acts)
    kit.assert_close(sae.reconstruct(x), want_recon)


def test_topk_without_the_flag_is_unchanged(tmp_path, kit):
    t = write(tmp_path, kit, rescale_acts_by_decoder_norm=False)
    x = kit.inputs()
    want_acts, want_recon = saelens_topk(t, x, 6, rescale=False)
    sae = load_sae(tmp_path)
    kit.assert_close(sae.encode(x), want_acts)
    kit.assert_close(sae.reconstruct(x), want_recon)


def test_covariance_whitening_normalises_nothing_at_load(tmp_path, kit):
    t = write(tmp_path, kit, arch="standard", normalize_activations="covariance_whitening")
    x = kit.inputs()
    acts = torch.relu((x - t["b_dec"]) @ t["W_enc"] + t["b_enc"])
    kit.assert_mixed(acts)
    sae = load_sae(tmp_path)
    kit.assert_close(sae.encode(x), acts)
    kit.assert_close(sae.reconstruct(x), acts @ t["W_dec"] + t["b_dec"])


def test_expected_average_only_in_ignores_the_cfg_factor(tmp_path, kit):
    t = write(tmp_path, kit, arch="standard", normalize_activations="expected_average_only_in",
              norm_scaling_factor=7.5)
    x = kit.inputs()
    acts = torch.relu((x - t["b_dec"]) @ t["W_enc"] + t["b_enc"])
    kit.assert_mixed(acts)
    kit.assert_close(load_sae(tmp_path).encode(x), acts)
