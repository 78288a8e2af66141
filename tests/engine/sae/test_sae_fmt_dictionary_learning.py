"""dictionary_learning ae.pt + config.json: each dictionary class against its own encode."""

from __future__ import annotations

import json

import pytest
import torch

from steerdesk.engine.errors import InputError, PickleRefused
from steerdesk.engine.sae import detect_format, load_sae

K = 6


def linear(kit, out_dim, in_dim, prefix, bias=True):
    t = {f"{prefix}.weight": kit.randn(out_dim, in_dim, scale=0.4)}
    if bias:
        t[f"{prefix}.bias"] = kit.randn(out_dim, scale=0.3)
    return t


def state_dict(kit, dict_class, threshold=0.4):
    d, F = kit.d_in, kit.d_sae
    if dict_class == "AutoEncoder":
        sd = {**linear(kit, F, d, "encoder"), **linear(kit, d, F, "decoder", bias=False),
              "bias": kit.randn(d)}
        sd["decoder.weight"] = sd["decoder.weight"] * (torch.rand(F, generator=kit.gen) * 3 + 0.2)
        return sd
    if dict_class == "AutoEncoderNew":
        return {**linear(kit, F, d, "encoder"), **linear(kit, d, F, "decoder")}
    if dict_class == "GatedAutoEncoder":
        return {"encoder.weight": kit.randn(F, d, scale=0.4),
                "decoder.weight": kit.randn(d, F, scale=0.4), "decoder_bias": kit.randn(d),
                "r_mag": kit.randn(F, scale=0.3), "gate_bias": kit.randn(F, scale=0.3),
                "mag_bias": kit.randn(F, scale=0.3)}
    if dict_class in ("JumpReluAutoEncoder", "MatryoshkaBatchTopKSAE"):
        sd = {"W_enc": kit.randn(d, F, scale=0.4), "b_enc": kit.randn(F, scale=0.3),
              "W_dec": kit.randn(F, d, scale=0.4), "b_dec": kit.randn(d)}
        if dict_class == "JumpReluAutoEncoder":
            return {**sd, "threshold": torch.rand(F, generator=kit.gen) + 0.3}
        return {**sd, "k": torch.tensor(K), "threshold": torch.tensor(threshold),
                "group_sizes": torch.tensor([F // 4, F - F // 4])}
    # AutoEncoderTopK, BatchTopKSAE
    return {**linear(kit, F, d, "encoder"), **linear(kit, d, F, "decoder", bias=False),
            "b_dec": kit.randn(d), "k": torch.tensor(K), "threshold": torch.tensor(threshold)}


def reference(dict_class, sd, x):
    """(features, reconstruction) as dictionary_learning computes them."""
    relu = torch.relu
    if dict_class == "AutoEncoder":
        # from_pretrained(normalize_decoder=True) first rescales to unit decoder columns
        norms = sd["decoder.weight"].norm(dim=0)
        enc_w, enc_b = sd["encoder.weight"] * norms[:, None], sd["encoder.bias"] * norms
        dec_w = sd["decoder.weight"] / norms
        f = relu((x - sd["bias"]) @ enc_w.T + enc_b)
        return f, f @ dec_w.T + sd["bias"]
    if dict_class == "AutoEncoderNew":
        f = relu(x @ sd["encoder.weight"].T + sd["encoder.bias"])
        return f, f @ sd["decoder.weight"].T + sd["decoder.bias"]
    if dict_class == "GatedAutoEncoder":
        x_enc = (x - sd["decoder_bias"]) @ sd["encoder.weight"].T
        gate = (x_enc + sd["gate_bias"] > 0).float()
        f = gate * relu(sd["r_mag"].exp() * x_enc + sd["mag_bias"])
        return f, f @ sd["decoder.weight"].T + sd["decoder_bias"]
    if dict_class == "JumpReluAutoEncoder":
        pre = x @ sd["W_enc"] + sd["b_enc"]
        f = relu(pre * (pre > sd["threshold"]))
        return f, f @ sd["W_dec"] + sd["b_dec"]
    if dict_class == "MatryoshkaBatchTopKSAE":
        post = relu((x - sd["b_dec"]) @ sd["W_enc"] + sd["b_enc"])
        f = post * (post > sd["threshold"])
        return f, f @ sd["W_dec"] + sd["b_dec"]
    post = relu((x - sd["b_dec"]) @ sd["encoder.weight"].T + sd["encoder.bias"])
    if dict_class == "BatchTopKSAE":  # inference: use_threshold=True
        f = post * (post > sd["threshold"])
    else:  # AutoEncoderTopK: per-token top-k
        top = post.topk(K, dim=-1)
        f = torch.zeros_like(post).scatter(-1, top.indices, top.values)
    return f, f @ sd["decoder.weight"].T + sd["b_dec"]


def write(folder, sd, dict_class, **trainer):
    folder.mkdir(parents=True, exist_ok=True)
    torch.save(sd, folder / "ae.pt")
    d, F = (sd["W_enc"].shape if "W_enc" in sd else sd["encoder.weight"].shape[::-1])
    cfg = {"trainer": {"dict_class": dict_class, "activation_dim": d, "dict_size": F, "k": K,
                       "layer": 3, "lm_name": "EleutherAI/pythia-70m-deduped",
                       "submodule_name": "resid_post_layer_3", **trainer},
           "buffer": {"ctx_len": 128}}
    (folder / "config.json").write_text(json.dumps(cfg))


CLASSES = ["AutoEncoder", "AutoEncoderNew", "GatedAutoEncoder", "JumpReluAutoEncoder",
           "AutoEncoderTopK", "BatchTopKSAE", "MatryoshkaBatchTopKSAE"]


@pytest.mark.parametrize("dict_class", CLASSES)
def test_each_class_matches_its_own_encode(tmp_path, kit, dict_class):
    sd = state_dict(kit, dict_class)
    write(tmp_path, sd, dict_class)
    sae = load_sae(tmp_path, allow_pickle=True)
    x = kit.inputs()
    f, recon = reference(dict_class, sd, x)
    kit.assert_mixed(f)
    kit.assert_close(sae.encode(x), f)
    kit.assert_close(sae.reconstruct(x), recon)
    assert sae.cfg.hook_name == "blocks.3.hook_resid_post"
    assert sae.cfg.model_name == "EleutherAI/pythia-70m-deduped"


def test_autoencoder_unit_decoder_keeps_the_reconstruction(tmp_path, kit):
    sd = state_dict(kit, "AutoEncoder")
    write(tmp_path, sd, "AutoEncoder")
    sae = load_sae(tmp_path, allow_pickle=True)
    x = kit.inputs()
    raw = torch.relu((x - sd["bias"]) @ sd["encoder.weight"].T + sd["encoder.bias"])
    kit.assert_close(sae.reconstruct(x), raw @ sd["decoder.weight"].T + sd["bias"])
    kit.assert_close(sae.W_dec.norm(dim=1), torch.ones(kit.d_sae))


def test_batch_topk_without_a_learned_threshold_uses_per_token_top_k(tmp_path, kit):
    sd = state_dict(kit, "BatchTopKSAE", threshold=-1.0)
    write(tmp_path, sd, "BatchTopKSAE")
    sae = load_sae(tmp_path / "ae.pt", allow_pickle=True)
    x = kit.inputs()
    kit.assert_close(sae.encode(x), reference("AutoEncoderTopK", sd, x)[0])
    assert sae.cfg.architecture == "topk" and sae.cfg.k == K


def test_trainer_class_stands_in_for_a_missing_dict_class(tmp_path, kit):
    sd = state_dict(kit, "AutoEncoderTopK")
    write(tmp_path, sd, None, trainer_class="TopKTrainer")
    assert load_sae(tmp_path, allow_pickle=True).cfg.architecture == "topk"


@pytest.mark.parametrize("submodule, hook", [
    ("mlp_out_layer_3", "blocks.3.hook_mlp_out"),
    ("attn_out_layer_3", "blocks.3.hook_attn_out"),
    (None, "blocks.3.hook_resid_post"),
    ("embed", None),
])
def test_hook_from_layer_and_submodule(tmp_path, kit, submodule, hook):
    write(tmp_path, state_dict(kit, "AutoEncoderNew"), "AutoEncoderNew", submodule_name=submodule)
    assert load_sae(tmp_path, allow_pickle=True).cfg.hook_name == hook


def test_pickle_needs_the_users_yes(tmp_path, kit):
    write(tmp_path, state_dict(kit, "AutoEncoderNew"), "AutoEncoderNew")
    assert detect_format(tmp_path) == "dictionary_learning"
    with pytest.raises(PickleRefused, match=r"ae\.pt.*pickle"):
        load_sae(tmp_path)


def test_unknown_class_and_missing_tensor(tmp_path, kit):
    sd = state_dict(kit, "AutoEncoderNew")
    write(tmp_path, sd, "CrossCoder")
    with pytest.raises(InputError, match=r"ae\.pt.*'CrossCoder' is not supported"):
        load_sae(tmp_path, allow_pickle=True)
    del sd["decoder.bias"]
    write(tmp_path, sd, "AutoEncoderNew")
    with pytest.raises(InputError, match=r"ae\.pt.*'decoder\.bias' is missing"):
        load_sae(tmp_path, allow_pickle=True)


def test_config_disagreeing_with_weights(tmp_path, kit):
    write(tmp_path, state_dict(kit, "AutoEncoderNew"), "AutoEncoderNew", dict_size=99)
    with pytest.raises(InputError, match=r"config\.json.*dict_size is 99"):
        load_sae(tmp_path, allow_pickle=True)
