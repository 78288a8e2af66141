"""Downloads against a stand-in hub on 127.0.0.1 serving tiny random repos under the real ids:
progress events, cancel mid-file then resume (with a Range request), a gated repo (401), a
missing file (404), a repo that does not exist, too little disk, offline mode, no network."""

from __future__ import annotations

import hashlib
import os
import shutil
import threading
from collections import namedtuple

import pytest
from hubstub import Repo, StandInHub, use_stand_in

from steerdesk.engine import downloads, pulls
from steerdesk.engine.errors import Cancelled

GPT2 = "openai-community/gpt2"
JB = "jbloom/GPT2-Small-SAEs-Reformatted"
NAME = "gpt2-small-res-jb:blocks.8.hook_resid_pre"


def tiny_repos(hub):
    weights = os.urandom(300_000)            # several chunks: a cancel can land mid-file
    hub.add(GPT2, Repo({"config.json": b'{"model_type": "gpt2"}', "model.safetensors": weights,
                        "tokenizer.json": b"{}" * 600, "README.md": b"not wanted",
                        "flax_model.msgpack": b"not wanted either"}))
    hub.add(JB, Repo({"blocks.8.hook_resid_pre/cfg.json": b'{"d_in": 32}',
                      "blocks.8.hook_resid_pre/sae_weights.safetensors": os.urandom(5000),
                      "blocks.7.hook_resid_pre/cfg.json": b"{}"}))
    return weights


@pytest.fixture
def hub(monkeypatch, tmp_path):
    with StandInHub() as h:
        use_stand_in(monkeypatch, tmp_path, h)
        monkeypatch.setattr(downloads, "CHUNK", 16_384)
        yield h


def test_pull_fetches_only_what_the_entry_needs_with_progress(hub):
    weights = tiny_repos(hub)
    events = []
    resolved = pulls.pull(NAME, progress=events.append)
    assert (resolved.model_path / "model.safetensors").read_bytes() == weights
    assert not (resolved.model_path / "README.md").exists()
    assert not (resolved.model_path / "flax_model.msgpack").exists()
    assert sorted(p.name for p in resolved.sae_path.iterdir()) == ["cfg.json",
                                                                   "sae_weights.safetensors"]
    assert not (resolved.sae_path.parent / "blocks.7.hook_resid_pre").exists()
    total = events[-1].total
    assert total == len(weights) + 1200 + len(b'{"model_type": "gpt2"}') + 5000 + 12
    assert events[-1].done == total and events[-1].fraction == 1.0
    dones = [e.done for e in events]
    assert dones == sorted(dones) and len(events) > 20   # byte progress, chunk by chunk
    assert any(e.eta is not None and e.rate for e in events[1:])
    assert resolved.hook == "blocks.8.hook_resid_pre" and resolved.input_centring
    # Pulled once: a second plan has nothing to fetch, and resolve works offline.
    assert pulls.plan(NAME)[1].remaining == 0


def test_cancel_mid_file_leaves_nothing_complete_and_the_next_pull_resumes(hub):
    weights = tiny_repos(hub)
    stop = threading.Event()

    def cancel_mid_weights(p):
        if p.file == "model.safetensors" and p.done > 100_000:
            stop.set()

    with pytest.raises(Cancelled):
        pulls.pull(NAME, progress=cancel_mid_weights, cancel=stop)
    # Nothing reads as downloaded: no snapshot file for the weights, no model config.
    t = pulls.target(NAME)
    assert pulls.status(t) == {"model": False, "sae": False}
    with pytest.raises(Exception, match="not downloaded yet"):
        pulls.resolve(NAME)
    parts = list(downloads.repo_folder(GPT2).glob("blobs/*" + downloads.PART))
    assert len(parts) == 1 and 100_000 < parts[0].stat().st_size < len(weights)
    had = parts[0].stat().st_size

    hub.requests.clear()
    _, plan = pulls.plan(NAME)
    assert plan.remaining == plan.total - had
    resolved = pulls.pull(NAME)
    ranges = [r[2].get("Range") for r in hub.requests if r[0] == "GET" and "model.safetensors" in r[1]]
    assert ranges == [f"bytes={had}-"]
    got = (resolved.model_path / "model.safetensors").read_bytes()
    assert hashlib.sha256(got).digest() == hashlib.sha256(weights).digest()
    assert not list(downloads.repo_folder(GPT2).glob("blobs/*" + downloads.PART))


def test_gated_repo_says_accept_the_licence_and_how_to_log_in(hub, monkeypatch):
    hub.add("google/gemma-3-270m-it", Repo({"config.json": b"{}", "model.safetensors": b"x" * 2000},
                                           gated=True))
    hub.add("google/gemma-scope-2-270m-it",
            Repo({"resid_post/layer_12_width_16k_l0_medium/params.safetensors": b"y" * 2000}))
    with pytest.raises(downloads.DownloadError) as err:
        pulls.plan("gemma-3-270m-it")
    msg = err.value.message
    assert err.value.kind == "gated" and "\n" not in msg
    assert "google/gemma-3-270m-it" in msg and "licence" in msg
    assert "https://huggingface.co/google/gemma-3-270m-it" in msg
    assert "hf auth login" in msg and "HF_TOKEN" in msg
    assert not downloads.repo_folder("google/gemma-3-270m-it").exists()  # nothing fetched
    # With a token that has access (HF_TOKEN, read by huggingface_hub), the same pull works.
    hub.authorized_token = "hf_test_token"
    monkeypatch.setenv("HF_TOKEN", "hf_test_token")
    assert pulls.plan("gemma-3-270m-it")[1].remaining > 0


def test_missing_file_names_the_repo_and_the_file(hub):
    tiny_repos(hub)
    hub.repos[JB].files.pop("blocks.8.hook_resid_pre/sae_weights.safetensors")
    with pytest.raises(downloads.DownloadError) as err:
        pulls.plan(NAME)
    assert err.value.kind == "not_found"
    assert f"{JB}: has no file blocks.8.hook_resid_pre/sae_weights.safetensors" in err.value.message


def test_file_listed_but_answering_404(hub, monkeypatch):
    tiny_repos(hub)
    real = hub._resolve

    def drop_weights(h, repo_id, file, head):
        if file.endswith("sae_weights.safetensors"):
            return hub._error(h, 404, "EntryNotFound", head)
        return real(h, repo_id, file, head)

    monkeypatch.setattr(hub, "_resolve", drop_weights)
    with pytest.raises(downloads.DownloadError, match="has no file 'blocks.8.hook_resid_pre/sae_w"):
        pulls.plan(NAME)


def test_unknown_repo(hub):
    with pytest.raises(downloads.DownloadError, match=f"{GPT2}: no such repository") as err:
        pulls.plan(NAME)
    assert err.value.kind == "not_found"


def test_disk_too_small(hub, monkeypatch):
    tiny_repos(hub)
    Usage = namedtuple("Usage", "total used free")
    monkeypatch.setattr(shutil, "disk_usage", lambda p: Usage(10**9, 10**9 - 50_000, 50_000))
    with pytest.raises(downloads.DownloadError) as err:
        pulls.plan(NAME)
    assert err.value.kind == "disk"
    assert "needs 306.2 KB" in err.value.message and "50.0 KB free" in err.value.message
    assert "HF_HOME" in err.value.for_cli()


def test_offline_mode_downloads_nothing(hub, monkeypatch):
    tiny_repos(hub)
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    with pytest.raises(downloads.DownloadError, match="offline mode is on") as err:
        pulls.plan(NAME)
    assert err.value.kind == "offline" and hub.requests == []


def test_network_down(monkeypatch, tmp_path):
    with StandInHub() as h:
        use_stand_in(monkeypatch, tmp_path, h)
    # the server is gone: nothing listens on its port any more
    with pytest.raises(downloads.DownloadError, match="cannot reach http://127.0.0.1") as err:
        pulls.plan(NAME)
    assert err.value.kind == "network"
