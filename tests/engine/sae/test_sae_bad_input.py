"""Bad SAE files: every error is an InputError that names the file and the problem; and
detect_format on each layout."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from safetensors.torch import save_file

from steerdesk.engine.errors import InputError, PickleRefused
from steerdesk.engine.sae import detect_format, load_sae


def saelens_folder(folder, kit, **cfg_changes):
    folder.mkdir(parents=True, exist_ok=True)
    t = {"W_enc": kit.randn(kit.d_in, kit.d_sae), "W_dec": kit.randn(kit.d_sae, kit.d_in),
         "b_enc": kit.randn(kit.d_sae), "b_dec": kit.randn(kit.d_in)}
    save_file(t, str(folder / "sae_weights.safetensors"))
    cfg = {"architecture": "standard", "d_in": kit.d_in, "d_sae": kit.d_sae, **cfg_changes}
    (folder / "cfg.json").write_text(json.dumps(cfg))
    return t


def test_missing_path(tmp_path):
    with pytest.raises(InputError, match=r"nope.*no such file or folder"):
        load_sae(tmp_path / "nope")


def test_unrecognised_folder_lists_the_formats(tmp_path):
    (tmp_path / "notes.txt").write_text("hi")
    with pytest.raises(InputError, match=r"not a recognised SAE.*SAELens.*Gemma Scope.*sparsify"):
        load_sae(tmp_path)


def test_corrupt_safetensors(tmp_path, kit):
    saelens_folder(tmp_path, kit)
    (tmp_path / "sae_weights.safetensors").write_bytes(b"\x10\x00\x00\x00\x00\x00\x00\x00{oops")
    with pytest.raises(InputError, match=r"sae_weights\.safetensors: not a readable safetensors"):
        load_sae(tmp_path)


@pytest.mark.parametrize("content", [b"not a zip at all", b"PK\x03\x04 cut short"])
def test_corrupt_npz(tmp_path, content):
    (tmp_path / "params.npz").write_bytes(content)
    with pytest.raises(InputError, match=r"params\.npz: not a readable \.npz"):
        load_sae(tmp_path)


def test_corrupt_json(tmp_path, kit):
    saelens_folder(tmp_path, kit)
    (tmp_path / "cfg.json").write_text('{"architecture": "standard", ')
    with pytest.raises(InputError, match=r"cfg\.json: not valid JSON"):
        load_sae(tmp_path)


def test_unknown_architecture(tmp_path, kit):
    saelens_folder(tmp_path, kit, architecture="mystery")
    with pytest.raises(InputError, match=rf"{tmp_path.name}.*unknown SAE architecture 'mystery'"):
        load_sae(tmp_path)


def test_missing_config_field(tmp_path, kit):
    saelens_folder(tmp_path, kit, d_in=None)
    with pytest.raises(InputError, match=r"cfg\.json: field 'd_in' is missing"):
        load_sae(tmp_path)


def test_wrong_shape(tmp_path, kit):
    saelens_folder(tmp_path, kit, d_sae=kit.d_sae + 1)
    with pytest.raises(InputError, match=rf"{tmp_path.name}.*'W_enc' has shape \(16, 48\)"):
        load_sae(tmp_path)


@pytest.mark.parametrize("bad", [float("nan"), float("inf")])
def test_nan_or_inf_in_safetensors(tmp_path, kit, bad):
    t = saelens_folder(tmp_path, kit)
    t["W_dec"][3, 2] = bad
    save_file(t, str(tmp_path / "sae_weights.safetensors"))
    with pytest.raises(InputError, match=rf"{tmp_path.name}.*'W_dec' holds NaN or Inf"):
        load_sae(tmp_path)


def test_inf_in_npz(tmp_path, kit):
    p = {"W_enc": kit.randn(kit.d_in, kit.d_sae), "W_dec": kit.randn(kit.d_sae, kit.d_in),
         "b_enc": kit.randn(kit.d_sae), "b_dec": kit.randn(kit.d_in),
         "threshold": kit.randn(kit.d_sae)}
    p["threshold"][0] = float("inf")
    np.savez(tmp_path / "params.npz", **{k: v.numpy() for k, v in p.items()})
    with pytest.raises(InputError, match=r"params\.npz.*'threshold' holds NaN or Inf"):
        load_sae(tmp_path)


def test_pt_without_allow_pickle(tmp_path, kit):
    torch.save({"encoder.weight": kit.randn(4, 2)}, tmp_path / "weights.pt")
    with pytest.raises(PickleRefused, match=r"weights\.pt.*pickle"):
        load_sae(tmp_path / "weights.pt")


@pytest.mark.parametrize("content, problem", [
    (b"certainly not a torch file", "could not be read"),
    (None, "expected a state dict"),
])
def test_unreadable_pt_with_allow_pickle(tmp_path, content, problem):
    if content is None:
        torch.save([1, 2, 3], tmp_path / "weights.pt")
    else:
        (tmp_path / "weights.pt").write_bytes(content)
    with pytest.raises(InputError, match=rf"weights\.pt.*{problem}"):
        load_sae(tmp_path / "weights.pt", allow_pickle=True)


def test_detect_format_on_each_layout(tmp_path, kit):
    saelens_folder(tmp_path / "saelens", kit)
    (tmp_path / "ls" / "checkpoints").mkdir(parents=True)
    (tmp_path / "ls" / "hyperparams.json").write_text("{}")
    save_file({"x": torch.zeros(1)}, str(tmp_path / "ls" / "checkpoints" / "final.safetensors"))
    (tmp_path / "gs").mkdir()
    np.savez(tmp_path / "gs" / "params.npz", a=np.zeros(1))
    for hookpoint in ("layers.0", "layers.1"):
        (tmp_path / "sp" / hookpoint).mkdir(parents=True)
        (tmp_path / "sp" / hookpoint / "cfg.json").write_text("{}")
        save_file({"x": torch.zeros(1)}, str(tmp_path / "sp" / hookpoint / "sae.safetensors"))
    (tmp_path / "dl").mkdir()
    (tmp_path / "dl" / "config.json").write_text("{}")
    torch.save({}, tmp_path / "dl" / "ae.pt")
    torch.save({}, tmp_path / "openai.pt")
    (tmp_path / "empty").mkdir()
    expected = {
        "saelens": "saelens", "ls": "llamascope", "gs": "gemmascope",
        "gs/params.npz": "gemmascope", "sp": "sparsify", "sp/layers.1": "sparsify",
        "dl": "dictionary_learning", "dl/ae.pt": "dictionary_learning", "openai.pt": "openai",
        "empty": None,
    }
    assert {k: detect_format(tmp_path / k) for k in expected} == expected
