"""Gemma Scope params.npz: JumpReLU on x itself (no b_dec subtraction), hook from the path."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from steerdesk.engine.errors import InputError
from steerdesk.engine.sae import detect_format, load_sae


def write_params(folder, kit, lower_case=False):
    folder.mkdir(parents=True, exist_ok=True)
    p = {"W_enc": kit.randn(kit.d_in, kit.d_sae, scale=0.5),
         "W_dec": kit.randn(kit.d_sae, kit.d_in, scale=0.3),
         "b_enc": kit.randn(kit.d_sae, scale=0.5),
         "b_dec": kit.randn(kit.d_in, scale=2.0),  # large: subtracting it would change encodes
         "threshold": kit.randn(kit.d_sae).abs() + 0.5}
    names = {k: ("w_" + k[2:] if lower_case and k.startswith("W_") else k) for k in p}
    np.savez(folder / "params.npz", **{names[k]: v.numpy() for k, v in p.items()})
    return p


def reference_encode(p, x):
    # Gemma Scope's JumpReLUSAE.encode from its tutorial: no b_dec on the input
    pre = x @ p["W_enc"] + p["b_enc"]
    return (pre > p["threshold"]) * torch.relu(pre)


def test_encode_decode_match_gemma_scope(tmp_path, kit):
    folder = tmp_path / "gemma-scope-2b-pt-res" / "layer_7" / "width_16k" / "average_l0_50"
    p = write_params(folder, kit)
    sae = load_sae(folder)
    x = kit.inputs()
    want = reference_encode(p, x)
    kit.assert_mixed(want)
    kit.assert_close(sae.encode(x), want)
    kit.assert_close(sae.reconstruct(x), want @ p["W_dec"] + p["b_dec"])
    assert sae.cfg.hook_name == "blocks.7.hook_resid_post"
    assert sae.cfg.architecture == "jumprelu" and not sae.cfg.apply_b_dec_to_input
    assert detect_format(folder) == "gemmascope"
    assert detect_format(folder / "params.npz") == "gemmascope"


def test_file_path_and_lower_case_names(tmp_path, kit):
    folder = tmp_path / "layer_3" / "width_16k" / "average_l0_20"
    p = write_params(folder, kit, lower_case=True)
    sae = load_sae(folder / "params.npz")
    x = kit.inputs()
    kit.assert_close(sae.encode(x), reference_encode(p, x))
    assert sae.cfg.hook_name == "blocks.3.hook_resid_post"


@pytest.mark.parametrize("release, hook", [
    ("gemma-scope-2b-pt-mlp", "blocks.12.hook_mlp_out"),
    ("models--google--gemma-scope-9b-pt-att", "blocks.12.attn.hook_z"),
])
def test_hook_from_release_folder(tmp_path, kit, release, hook):
    folder = tmp_path / release / "layer_12" / "width_16k" / "average_l0_82"
    write_params(folder, kit)
    assert load_sae(folder).cfg.hook_name == hook


def test_no_layer_in_path_leaves_hook_to_the_user(tmp_path, kit):
    write_params(tmp_path / "my_sae", kit)
    assert load_sae(tmp_path / "my_sae").cfg.hook_name is None
    assert load_sae(tmp_path / "my_sae", hook="blocks.2.hook_resid_post").cfg.hook_name == \
        "blocks.2.hook_resid_post"


def test_missing_threshold_names_file_and_array(tmp_path, kit):
    p = write_params(tmp_path, kit)
    np.savez(tmp_path / "params.npz", **{k: v.numpy() for k, v in p.items() if k != "threshold"})
    with pytest.raises(InputError, match=r"params\.npz.*threshold"):
        load_sae(tmp_path)


def test_threshold_of_wrong_length(tmp_path, kit):
    p = write_params(tmp_path, kit)
    p["threshold"] = p["threshold"][:-1]
    np.savez(tmp_path / "params.npz", **{k: v.numpy() for k, v in p.items()})
    with pytest.raises(InputError, match=r"params\.npz.*'threshold'.*shape"):
        load_sae(tmp_path)
