"""EleutherAI sparsify: top-k of relu(encoder(x - b_dec)), hookpoint folders under a root."""

from __future__ import annotations

import json

import pytest
import torch
from safetensors.torch import save_file

from steerdesk.engine.errors import InputError
from steerdesk.engine.sae import detect_format, load_sae

K = 5


def write_hookpoint(folder, kit, *, cfg_extra=None, skip=True, transpose_dec=False):
    folder.mkdir(parents=True, exist_ok=True)
    t = {"encoder.weight": kit.randn(kit.d_sae, kit.d_in, scale=0.5),
         "encoder.bias": kit.randn(kit.d_sae, scale=0.3),
         "W_dec": kit.randn(kit.d_sae, kit.d_in, scale=0.3),
         "b_dec": kit.randn(kit.d_in)}
    if skip:
        t["W_skip"] = kit.randn(kit.d_in, kit.d_in, scale=0.1)
    stored = dict(t, W_dec=t["W_dec"].T.contiguous()) if transpose_dec else t
    save_file(stored, str(folder / "sae.safetensors"))
    cfg = {"activation": "topk", "expansion_factor": 3, "normalize_decoder": True,
           "num_latents": 0, "k": K, "multi_topk": False, "skip_connection": skip,
           "transcode": False, "d_in": kit.d_in, **(cfg_extra or {})}
    (folder / "cfg.json").write_text(json.dumps(cfg))
    return t


def reference(t, x):
    # SparseCoder.encode: fused_encoder(x - b_dec) = topk(relu(linear(x))), decode adds b_dec,
    # forward adds x @ W_skip.mT
    pre = torch.relu((x - t["b_dec"]) @ t["encoder.weight"].T + t["encoder.bias"])
    top = pre.topk(K, dim=-1)
    acts = torch.zeros_like(pre).scatter(-1, top.indices, top.values)
    recon = acts @ t["W_dec"] + t["b_dec"]
    if "W_skip" in t:
        recon = recon + x @ t["W_skip"].T
    return acts, recon


def test_encode_and_reconstruct_match_sparsify(tmp_path, kit):
    t = write_hookpoint(tmp_path / "layers.6", kit)
    sae = load_sae(tmp_path / "layers.6")
    x = kit.inputs()
    acts, recon = reference(t, x)
    kit.assert_mixed(acts)
    kit.assert_close(sae.encode(x), acts)
    kit.assert_close(sae.reconstruct(x), recon)
    assert sae.cfg.hook_name == "layers.6" and sae.cfg.k == K
    assert detect_format(tmp_path / "layers.6") == "sparsify"


def test_cfg_without_d_in_and_decoder_stored_transposed(tmp_path, kit):
    folder = tmp_path / "layers.1"
    t = write_hookpoint(folder, kit, skip=False, transpose_dec=True)
    cfg = json.loads((folder / "cfg.json").read_text())
    del cfg["d_in"]
    (folder / "cfg.json").write_text(json.dumps(cfg))
    sae = load_sae(folder)
    x = kit.inputs()
    acts, recon = reference(t, x)
    kit.assert_close(sae.encode(x), acts)
    kit.assert_close(sae.reconstruct(x), recon)


def test_root_with_several_hookpoints(tmp_path, kit):
    t10 = write_hookpoint(tmp_path / "layers.10", kit)
    write_hookpoint(tmp_path / "layers.2", kit)
    assert detect_format(tmp_path) == "sparsify"
    with pytest.raises(InputError, match=r"several hookpoints.*layers\.2, layers\.10"):
        load_sae(tmp_path)
    with pytest.raises(InputError, match=r"no hookpoint folder named 'layers\.7'"):
        load_sae(tmp_path, hook="layers.7")
    sae = load_sae(tmp_path, hook="layers.10")
    x = kit.inputs()
    kit.assert_close(sae.encode(x), reference(t10, x)[0])
    assert sae.cfg.hook_name == "layers.10"


def test_root_with_one_hookpoint_loads_it(tmp_path, kit):
    write_hookpoint(tmp_path / "embed_tokens", kit)
    assert load_sae(tmp_path).cfg.hook_name == "embed_tokens"


@pytest.mark.parametrize("extra, problem", [
    ({"transcode": True}, "transcoder"),
    ({"activation": "groupmax"}, "groupmax"),
    ({"k": 0}, "'k'"),
    ({"num_latents": 40}, "shape"),
])
def test_unsupported_settings_are_named(tmp_path, kit, extra, problem):
    write_hookpoint(tmp_path / "layers.0", kit, cfg_extra=extra)
    with pytest.raises(InputError, match=rf"cfg\.json.*{problem}|sae\.safetensors.*{problem}"):
        load_sae(tmp_path / "layers.0")
