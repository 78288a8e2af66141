"""Llama Scope (lm_saes): dataset-wise input scaling, JumpReLU on pre * |decoder column|."""

from __future__ import annotations

import json
import math

import pytest
import torch
from safetensors.torch import save_file

from steerdesk.engine.errors import InputError
from steerdesk.engine.sae import detect_format, load_sae

AVG_NORM = 9.5
THRESHOLD = 0.6


def write(folder, kit, name="hyperparams.json", **overrides):
    d, F = kit.d_in, kit.d_sae
    t = {"encoder.weight": kit.randn(F, d, scale=0.4), "encoder.bias": kit.randn(F, scale=0.3),
         # decoder columns of varied norms: sparsity_include_decoder_norm must matter
         "decoder.weight": kit.randn(d, F, scale=0.3) * (torch.rand(F, generator=kit.gen) * 4),
         "decoder.bias": kit.randn(d)}
    hp = {"d_model": d, "d_sae": F, "hook_point_in": "blocks.15.hook_resid_post",
          "hook_point_out": "blocks.15.hook_resid_post", "use_decoder_bias": True,
          "apply_decoder_bias_to_pre_encoder": False, "act_fn": "jumprelu",
          "jump_relu_threshold": THRESHOLD, "norm_activation": "dataset-wise",
          "dataset_average_activation_norm": {"in": AVG_NORM, "out": AVG_NORM},
          "sparsity_include_decoder_norm": True, "top_k": 50, **overrides}
    (folder / "checkpoints").mkdir(parents=True, exist_ok=True)
    save_file(t, str(folder / "checkpoints" / "final.safetensors"))
    (folder / name).write_text(json.dumps(hp))
    return t, hp


def reference(t, hp, x):
    """SparseAutoEncoder.encode/decode of lm_saes, for a resid SAE (in == out)."""
    factor = math.sqrt(hp["d_model"]) / hp["dataset_average_activation_norm"]["in"]
    x = x * factor
    if hp["apply_decoder_bias_to_pre_encoder"]:
        x = x - t["decoder.bias"]
    pre = x @ t["encoder.weight"].T + t["encoder.bias"]
    score = pre * t["decoder.weight"].norm(dim=0) if hp["sparsity_include_decoder_norm"] else pre
    acts = pre * score.gt(hp["jump_relu_threshold"])
    recon = (acts @ t["decoder.weight"].T + t["decoder.bias"]) / factor
    return acts, recon


@pytest.mark.parametrize("overrides", [
    {}, {"apply_decoder_bias_to_pre_encoder": True}, {"sparsity_include_decoder_norm": False}])
def test_encode_and_reconstruct_match_lm_saes(tmp_path, kit, overrides):
    t, hp = write(tmp_path, kit, **overrides)
    sae = load_sae(tmp_path)
    x = kit.inputs() * 3.0
    acts, recon = reference(t, hp, x)
    kit.assert_mixed(acts)
    kit.assert_close(sae.encode(x), acts)
    kit.assert_close(sae.reconstruct(x), recon)
    assert sae.cfg.hook_name == "blocks.15.hook_resid_post"
    assert sae.cfg.normalize_activations == "scale"
    assert sae.cfg.input_scale == pytest.approx(math.sqrt(kit.d_in) / AVG_NORM)
    assert detect_format(tmp_path) == "llamascope"


def test_hyperparameters_json_name_and_log_threshold_tensor(tmp_path, kit):
    t, hp = write(tmp_path, kit, name="hyperparameters.json", sparsity_include_decoder_norm=False)
    log_thr = kit.randn(kit.d_sae, scale=0.2) + math.log(THRESHOLD)
    save_file({**t, "log_jumprelu_threshold": log_thr},
              str(tmp_path / "checkpoints" / "final.safetensors"))
    sae = load_sae(tmp_path)
    x = kit.inputs() * 3.0
    factor = math.sqrt(kit.d_in) / AVG_NORM
    pre = (x * factor) @ t["encoder.weight"].T + t["encoder.bias"]
    want = pre * pre.gt(log_thr.exp())
    kit.assert_mixed(want)
    kit.assert_close(sae.encode(x), want)


def test_transcoder_is_refused(tmp_path, kit):
    write(tmp_path, kit, hook_point_out="blocks.15.hook_mlp_out")
    with pytest.raises(InputError, match=r"hyperparams\.json.*transcoder"):
        load_sae(tmp_path)


@pytest.mark.parametrize("overrides, problem", [
    ({"dataset_average_activation_norm": {}}, "dataset_average_activation_norm"),
    ({"act_fn": "batchtopk"}, "act_fn 'batchtopk'"),
    ({"norm_activation": "batch-wise"}, "batch-wise"),
    ({"d_sae": 7}, "d_sae=7"),
])
def test_bad_hyperparams_are_named(tmp_path, kit, overrides, problem):
    write(tmp_path, kit, **overrides)
    with pytest.raises(InputError, match=rf"hyperparams\.json.*{problem}"):
        load_sae(tmp_path)
