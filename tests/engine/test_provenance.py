"""Content hashes of model and SAE files (cached by path, size and mtime) and the pieces of a
run's record."""

import hashlib
import os

import pytest
import torch

from steerdesk.engine import fingerprint
from steerdesk.engine.errors import InputError
from steerdesk.engine.fingerprint import content_sha256, file_sha256, hashed_files


@pytest.fixture(autouse=True)
def own_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("STEERDESK_CACHE", str(tmp_path / "cache"))


def test_a_file_hash_is_its_sha256_and_the_second_time_is_not_read_again(tmp_path, monkeypatch):
    f = tmp_path / "w.safetensors"
    f.write_bytes(b"weights" * 1000)
    assert file_sha256(f) == hashlib.sha256(b"weights" * 1000).hexdigest()
    monkeypatch.setattr("builtins.open", lambda *a, **k: pytest.fail("read again"))
    assert file_sha256(f) == hashlib.sha256(b"weights" * 1000).hexdigest()


def test_a_changed_file_is_hashed_again(tmp_path):
    f = tmp_path / "w.bin"
    f.write_bytes(b"a")
    first = file_sha256(f)
    f.write_bytes(b"bb")                     # another size: another cache key
    assert file_sha256(f) == hashlib.sha256(b"bb").hexdigest() != first
    st = f.stat()
    f.write_bytes(b"cc")                     # same size, a later mtime
    os.utime(f, ns=(st.st_atime_ns, st.st_mtime_ns + 10 ** 9))
    assert file_sha256(f) == hashlib.sha256(b"cc").hexdigest()


def test_a_damaged_cache_costs_only_a_rehash(tmp_path):
    f = tmp_path / "w.bin"
    f.write_bytes(b"x")
    fingerprint.cache_file().parent.mkdir(parents=True)
    fingerprint.cache_file().write_text("{not json")
    assert file_sha256(f) == hashlib.sha256(b"x").hexdigest()


def test_a_folder_hash_covers_weights_configs_and_tokenizers_only(tmp_path):
    sae = tmp_path / "sae"
    (sae / "catalog").mkdir(parents=True)
    (sae / "presets").mkdir()
    (sae / "cfg.json").write_text("{}")
    (sae / "sae_weights.safetensors").write_bytes(b"w")
    before = content_sha256(sae)
    (sae / "README.md").write_text("notes")
    (sae / "catalog" / "stats.safetensors").write_bytes(b"s")
    (sae / "presets" / "p.json").write_text("{}")
    assert content_sha256(sae) == before      # what steerdesk and people write beside it
    assert [p.name for p in hashed_files(sae)] == ["cfg.json", "sae_weights.safetensors"]
    (sae / "sae_weights.safetensors").write_bytes(b"W")
    assert content_sha256(sae) != before


def test_an_unreadable_path_is_one_line(tmp_path):
    with pytest.raises(InputError, match="no such file or folder to hash"):
        content_sha256(tmp_path / "gone")


def test_session_and_steering_records(session):
    from steerdesk.engine.provenance import session_record, steering_record, versions
    from steerdesk.engine.steering import parse_spec

    rec = session_record(session)
    assert rec["model"]["sha256"] == content_sha256(session.lm.path)
    assert rec["sae"]["sha256"] == content_sha256(session.sae_path)
    assert rec["hook"] == {"name": "blocks.1.hook_resid_post",
                           "module": session.hook.description,
                           "in_files": "blocks.1.hook_resid_post"}
    v = versions()
    assert set(v) == {"steerdesk", "python", "torch", "transformers", "safetensors"}
    assert v["torch"].split("+")[0] == torch.__version__.split("+")[0]
    session.max_acts = torch.linspace(0.5, 2.0, session.sae.d_sae)
    try:
        steer = steering_record(parse_spec("7=3,9=ablate,4=clamp:2", unit="max"), session)
    finally:
        session.max_acts = None
    peak = float(torch.linspace(0.5, 2.0, session.sae.d_sae)[7])
    assert steer["unit"] == "max"
    assert steer["features"][0] == {"index": 7, "label": None, "mode": "add", "strength": 3.0,
                                    "raw_strength": 3.0 * peak, "max_activation": peak}
    assert steer["features"][1]["raw_strength"] == 0.0 and \
        steer["features"][1]["max_activation"] is None
    assert steer["features"][2]["raw_strength"] == pytest.approx(
        2.0 * float(torch.linspace(0.5, 2.0, session.sae.d_sae)[4]))
