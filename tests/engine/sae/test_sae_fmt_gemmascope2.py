"""Gemma Scope 2: params.safetensors with lower-case w_enc/w_dec/b_enc/b_dec/threshold,
JumpReLU on x itself (no b_dec subtraction), hook from config.json or the folder name; and an
SAE of that layout steering a tiny Gemma 3 model."""

from __future__ import annotations

import json

import pytest
import torch
from safetensors.torch import save_file

from steerdesk.engine.errors import InputError
from steerdesk.engine.sae import detect_format, load_sae


def write_folder(folder, kit, d_in=None, config=None, extra=None):
    d_in = d_in or kit.d_in
    folder.mkdir(parents=True, exist_ok=True)
    p = {"w_enc": kit.randn(d_in, kit.d_sae, scale=0.5),
         "w_dec": kit.randn(kit.d_sae, d_in, scale=0.3),
         "b_enc": kit.randn(kit.d_sae, scale=0.5),
         "b_dec": kit.randn(d_in, scale=2.0),   # large: subtracting it would change encodes
         "threshold": kit.randn(kit.d_sae).abs() + 0.5, **(extra or {})}
    save_file({k: v.contiguous() for k, v in p.items()}, str(folder / "params.safetensors"))
    if config is not None:
        (folder / "config.json").write_text(json.dumps(config))
    return p


def jumprelu_by_hand(p, x):
    # The format's definition: pre = x W_enc + b_enc; keep pre where pre > threshold, else 0
    pre = torch.einsum("bti,if->btf", x, p["w_enc"]) + p["b_enc"]
    out = torch.zeros_like(pre)
    for f in range(pre.shape[-1]):
        keep = pre[..., f] > p["threshold"][f]
        out[..., f] = torch.where(keep, pre[..., f], torch.zeros_like(pre[..., f]))
    return out


def test_encode_and_decode_match_the_definition(tmp_path, kit):
    folder = tmp_path / "resid_post" / "layer_12_width_16k_l0_medium"
    p = write_folder(folder, kit, config={"architecture": "jump_relu",
                                          "hf_hook_point_in": "model.layers.12.output"})
    sae = load_sae(folder)
    x = kit.inputs()
    want = jumprelu_by_hand(p, x)
    kit.assert_mixed(want)
    kit.assert_close(sae.encode(x), want)
    kit.assert_close(sae.reconstruct(x), want @ p["w_dec"] + p["b_dec"])
    assert detect_format(folder) == "gemmascope2"
    assert sae.cfg.hook_name == "blocks.12.hook_resid_post"
    assert not sae.cfg.apply_b_dec_to_input and sae.cfg.architecture == "jumprelu"


def test_hook_from_the_folder_name_without_config(tmp_path, kit):
    folder = tmp_path / "resid_post" / "layer_5_width_65k_l0_small"
    write_folder(folder, kit)
    assert load_sae(folder).cfg.hook_name == "blocks.5.hook_resid_post"
    folder = tmp_path / "mlp_out" / "layer_3_width_16k_l0_big"
    write_folder(folder, kit)
    assert load_sae(folder).cfg.hook_name == "blocks.3.hook_mlp_out"


def test_a_transcoder_is_refused_in_one_line(tmp_path, kit):
    folder = tmp_path / "transcoder_all" / "layer_0_width_16k_l0_big_affine"
    write_folder(folder, kit, extra={"affine_skip_connection": kit.randn(kit.d_in, kit.d_in)})
    with pytest.raises(InputError, match="transcoder"):
        load_sae(folder)


def test_missing_threshold_names_the_file(tmp_path, kit):
    folder = tmp_path / "resid_post" / "layer_1_width_16k_l0_small"
    p = write_folder(folder, kit)
    p.pop("threshold")
    save_file(p, str(folder / "params.safetensors"))
    with pytest.raises(InputError, match="threshold"):
        load_sae(folder, fmt="gemmascope2")


def test_steers_a_tiny_gemma3(tmp_path, kit):
    from steerdesk.engine.generation import GenerationRequest, generate
    from steerdesk.engine.hooks import resolve_hook
    from steerdesk.engine.session import open_session
    from steerdesk.engine.steering import FeatureSteer, SteeringSpec
    from steerdesk.testing.tiny import make_model

    model_dir = make_model(tmp_path / "gemma3", "gemma3_text", d=32, layers=2)
    folder = tmp_path / "resid_post" / "layer_1_width_16k_l0_medium"
    write_folder(folder, kit, d_in=32)
    session = open_session(model_dir, folder, device="cpu")
    assert type(session.model).__name__ == "Gemma3ForCausalLM"
    i, s = 3, 8.0
    req = GenerationRequest("the quick brown fox", [SteeringSpec([FeatureSteer(i, s, "add")])],
                            max_new_tokens=5)
    result = generate(session, req)
    row = session.sae.W_dec[i].clone()
    ids = list(result.prompt.token_ids)
    handle = resolve_hook(session.model, "blocks.1.hook_resid_post").register(lambda h: h + s * row)
    try:
        for tok in result.rows[1].tokens:   # h + s * w_dec[i] after layer 1, by hand, no cache
            with torch.no_grad():
                logits = session.model(input_ids=torch.tensor([ids]), use_cache=False).logits[0, -1]
            assert tok.token_id == int(logits.argmax())
            ids.append(tok.token_id)
    finally:
        handle.remove()
    assert result.rows[1].text != result.rows[0].text
