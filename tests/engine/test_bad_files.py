"""The bad inputs the fuzzing campaign found, pinned one by one: each must be one InputError
line naming the file (or field), never another exception, a hang or a silent bad load."""

from __future__ import annotations

import errno
import json
import os
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import torch
from safetensors.torch import load_file, save_file

sys.path.insert(0, str(Path(__file__).parent.parent / "fuzz"))
import seeds  # noqa: E402

from steerdesk.engine import atomic  # noqa: E402
from steerdesk.engine.errors import InputError  # noqa: E402
from steerdesk.engine.presets import load_preset  # noqa: E402
from steerdesk.engine.sae import load_sae  # noqa: E402


def gen():
    return torch.Generator().manual_seed(3)


def one_line(exc_info) -> str:
    text = exc_info.value.for_cli()
    assert "\n" not in text, text
    return text


def edit_json(path: Path, change) -> None:
    data = json.loads(path.read_text())
    change(data)
    path.write_text(json.dumps(data))


# ---- SAE configs ----------------------------------------------------------------------------

@pytest.mark.parametrize("k", ["x", [], -1, 0, 2.5, 10 ** 9])
def test_topk_k_of_the_wrong_kind(tmp_path, k):
    folder = seeds.saelens(tmp_path / "sae", gen(), "topk")
    edit_json(folder / "cfg.json", lambda d: d.update(k=k))
    with pytest.raises(InputError) as e:
        load_sae(folder)
    assert "cfg.json" in one_line(e) or "sae" in one_line(e)
    assert "k is" in one_line(e)


def test_infinity_in_a_config_is_not_json(tmp_path):
    folder = seeds.saelens(tmp_path / "sae", gen(), "topk")
    (folder / "cfg.json").write_text((folder / "cfg.json").read_text().replace('"k": 4',
                                                                               '"k": Infinity'))
    with pytest.raises(InputError, match=r"cfg\.json: not valid JSON \(Infinity"):
        load_sae(folder)


@pytest.mark.parametrize("k", ["x", -1, [3]])
def test_dictionary_learning_k(tmp_path, k):
    folder = tmp_path / "dl"
    folder.mkdir()
    g = gen()
    sd = {"encoder.weight": torch.randn(24, 8, generator=g), "encoder.bias": torch.zeros(24),
          "decoder.weight": torch.randn(8, 24, generator=g), "b_dec": torch.zeros(8)}
    torch.save(sd, folder / "ae.pt")
    (folder / "config.json").write_text(json.dumps(
        {"trainer": {"dict_class": "AutoEncoderTopK", "k": k, "layer": 0}}))
    with pytest.raises(InputError, match=r"ae\.pt: k is"):
        load_sae(folder, allow_pickle=True)


def test_hook_name_that_is_not_text(tmp_path):
    folder = seeds.saelens(tmp_path / "sae", gen())
    edit_json(folder / "cfg.json", lambda d: d["metadata"].update(hook_name=5))
    with pytest.raises(InputError, match="hook_name is 5; it must be text"):
        load_sae(folder)


@pytest.mark.parametrize("norm", [0, -3.0, 1e-320, "big"])
def test_llama_scope_input_norm(tmp_path, norm):
    folder = seeds.llamascope(tmp_path / "ls", gen())
    edit_json(folder / "hyperparams.json",
              lambda d: d.update(dataset_average_activation_norm={"in": norm, "out": 1.0}))
    with pytest.raises(InputError, match="dataset_average_activation_norm"):
        load_sae(folder)


def test_nan_threshold_is_refused(tmp_path):
    folder = seeds.saelens(tmp_path / "sae", gen(), "jumprelu")
    t = load_file(str(folder / "sae_weights.safetensors"))
    t["threshold"][3] = float("nan")
    save_file(t, str(folder / "sae_weights.safetensors"))
    with pytest.raises(InputError, match="'threshold' holds NaN or Inf"):
        load_sae(folder)


def test_finite_but_huge_weights(tmp_path):
    folder = seeds.saelens(tmp_path / "sae", gen())
    t = load_file(str(folder / "sae_weights.safetensors"))
    t["W_enc"].fill_(3e38)
    save_file(t, str(folder / "sae_weights.safetensors"))
    with pytest.raises(InputError, match="'W_enc' holds values up to 3e"):
        load_sae(folder)


def test_integer_weights_are_named(tmp_path):
    folder = seeds.saelens(tmp_path / "sae", gen())
    t = load_file(str(folder / "sae_weights.safetensors"))
    t["b_dec"] = t["b_dec"].to(torch.int64)
    save_file(t, str(folder / "sae_weights.safetensors"))
    with pytest.raises(InputError, match="'b_dec' holds int64"):
        load_sae(folder)


def test_dictionary_learning_shapes_are_checked_before_use(tmp_path):
    folder = seeds.dictionary_learning(tmp_path / "dl", gen())
    sd = torch.load(folder / "ae.pt", weights_only=True)
    sd["encoder.bias"] = torch.zeros(29)
    torch.save(sd, folder / "ae.pt")
    with pytest.raises(InputError, match=r"ae\.pt: tensor for b_enc has shape \(29,\)"):
        load_sae(folder, allow_pickle=True)


def test_sparse_tensors_in_a_pickle_read_as_dense(tmp_path):
    path = seeds.openai(tmp_path / "oa", gen())
    sd = torch.load(path, weights_only=True)
    dense = sd["encoder.weight"].clone()
    sd["encoder.weight"] = dense.to_sparse()
    torch.save(sd, path)
    sae = load_sae(path, allow_pickle=True, hook="blocks.0.hook_resid_post")
    assert torch.equal(sae.W_enc, dense.T)


def test_npz_header_declaring_a_trillion_elements(tmp_path):
    import zipfile

    folder = seeds.gemmascope(tmp_path / "gs", gen())
    with np.load(folder / "params.npz") as d:
        arrays = {k: d[k] for k in d.files}
    import io

    head = io.BytesIO()
    np.lib.format.write_array_header_1_0(head, {"descr": "<f4", "fortran_order": False,
                                                "shape": (10 ** 6, 10 ** 6)})
    with zipfile.ZipFile(folder / "params.npz", "w") as z:
        for k, v in arrays.items():
            b = io.BytesIO()
            np.save(b, v)
            z.writestr(f"{k}.npy", b.getvalue() if k != "W_enc" else head.getvalue() + b"0" * 8)
    with pytest.raises(InputError, match=r"params\.npz: array 'W_enc\.npy' declares shape"):
        load_sae(folder)


def test_refused_pickle_is_one_line(tmp_path):
    path = tmp_path / "evil.pt"

    class Evil:
        def __reduce__(self):
            return (print, ("boom",))

    torch.save({"x": Evil()}, path)
    with pytest.raises(InputError) as e:
        load_sae(path, allow_pickle=True, hook="blocks.0.hook_resid_post")
    assert "weights-only" in one_line(e) and len(one_line(e)) < 400


# ---- every JSON reader: absurd nesting, special files, permissions ---------------------------

def _json_targets(tmp_path):
    """(file to break, how steerdesk reads it) for each JSON the user can hand it."""
    from steerdesk.engine.catalog.labels_import import read_labels
    from steerdesk.engine.catalog.store import Catalog, create_empty

    sae = seeds.saelens(tmp_path / "sae", gen())
    preset = seeds.preset(tmp_path / "p", gen())
    labels = seeds.labels_jsonl(tmp_path / "l", gen()).with_suffix(".json")
    labels.write_text(json.dumps([{"index": 1, "description": "x"}]))
    create_empty(tmp_path / "cat", 24)
    return [(sae / "cfg.json", lambda: load_sae(sae)),
            (preset, lambda: load_preset(preset)),
            (labels, lambda: read_labels(labels, 24)),
            (tmp_path / "cat" / "catalog.json", lambda: Catalog(tmp_path / "cat"))]


def test_json_nested_100000_deep_in_every_reader(tmp_path):
    for path, read in _json_targets(tmp_path):
        path.write_text("[" * 100_000 + "]" * 100_000)
        with pytest.raises(InputError) as e:
            read()
        assert path.name in one_line(e) and "nested too deeply" in one_line(e), one_line(e)


def test_a_fifo_is_refused_without_opening_it(tmp_path):
    for path, read in _json_targets(tmp_path):
        path.unlink()
        os.mkfifo(path)
        t0 = time.monotonic()
        with pytest.raises(InputError) as e:
            read()
        # an SAE folder whose cfg.json is a pipe is not recognised as an SAE: also one line
        assert ("not a regular file" in one_line(e) and path.name in one_line(e)) or \
            "not a recognised SAE" in one_line(e)
        assert time.monotonic() - t0 < 5


def test_a_folder_where_a_file_belongs(tmp_path):
    for path, read in _json_targets(tmp_path):
        path.unlink()
        path.mkdir()
        with pytest.raises(InputError, match="is a folder|not a recognised SAE|folder holds no"):
            read()


def test_unreadable_files_say_permission_denied(tmp_path, monkeypatch):
    """Tests run as root here, where chmod 000 still reads: deny access the way the OS would."""
    targets = _json_targets(tmp_path)
    real = os.access
    denied = {str(p) for p, _ in targets}
    monkeypatch.setattr(os, "access", lambda p, mode, **kw: False if str(p) in denied
                        else real(p, mode, **kw))
    for path, read in targets:
        with pytest.raises(InputError, match="permission denied") as e:
            read()
        assert path.name in one_line(e)


# ---- catalogs --------------------------------------------------------------------------------

def test_catalog_manifest_fields_of_the_wrong_type(tmp_path):
    from steerdesk.engine.catalog.store import Catalog, create_empty

    create_empty(tmp_path / "cat", 24)
    manifest = tmp_path / "cat" / "catalog.json"
    for change, problem in [({"version": "x"}, "'version' must be a whole number"),
                            ({"d_sae": "24"}, "'d_sae' must be a whole number"),
                            ({"d_sae": 10 ** 12}, "'d_sae' is"),
                            ({"version": 99}, "newer than this steerdesk")]:
        edit_json(manifest, lambda d, c=change: d.update(c))
        with pytest.raises(InputError, match=problem):
            Catalog(tmp_path / "cat")
        edit_json(manifest, lambda d: d.update(version=1, d_sae=24))


# ---- saving: interrupted saves and full disks ------------------------------------------------

def test_temp_files_of_an_interrupted_save_go_on_the_next_save(tmp_path):
    target = tmp_path / "preset.json"
    stale = tmp_path / ".preset.json.abc123.tmp"
    fresh = tmp_path / ".preset.json.def456.tmp"
    stale.write_text("half")
    fresh.write_text("another save in progress")
    old = time.time() - 2 * atomic.STALE_SECONDS
    os.utime(stale, (old, old))
    atomic.write_text(target, "{}")
    assert target.read_text() == "{}" and not stale.exists() and fresh.exists()


def test_a_full_disk_is_one_line_and_keeps_the_old_file(tmp_path, monkeypatch):
    target = tmp_path / "labels.json"
    target.write_text("old")

    def full(*a, **kw):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(os, "fsync", full)
    with pytest.raises(InputError, match=r"labels\.json: could not be written: the disk is full"):
        atomic.write_text(target, "new")
    assert target.read_text() == "old"
    assert not list(tmp_path.glob(".labels.json.*.tmp"))
