"""`steerdesk models pull NAME`, then `steerdesk generate --sae NAME` offline, end to end
against a stand-in hub on 127.0.0.1 serving tiny random repos under the real repo ids."""

from __future__ import annotations

import json

import pytest
from hubstub import Repo, StandInHub, use_stand_in

from steerdesk.testing.tiny import make_model, make_sae

NAME = "gpt2-small-res-jb:blocks.8.hook_resid_pre"


@pytest.fixture(scope="module")
def tiny_pair(tmp_path_factory):
    root = tmp_path_factory.mktemp("real-ids")
    model = make_model(root / "gpt2", "gpt2", d=32, layers=9)
    sae = make_sae(root / "jb" / "blocks.8.hook_resid_pre", d_in=32, d_sae=48, arch="relu",
                   hook="blocks.8.hook_resid_pre")
    return model, sae.parent


def run_cli(capsys, *args):
    from steerdesk.cli.main import main

    code = main([str(a) for a in args])
    out = capsys.readouterr()
    return code, out.out, out.err


def test_pull_then_generate_offline(monkeypatch, tmp_path, capsys, tiny_pair):
    from huggingface_hub import constants

    model_dir, jb_dir = tiny_pair
    with StandInHub() as hub:
        use_stand_in(monkeypatch, tmp_path, hub)
        hub.add("openai-community/gpt2", Repo.from_folder(model_dir))
        hub.add("jbloom/GPT2-Small-SAEs-Reformatted", Repo.from_folder(jb_dir))
        code, out, err = run_cli(capsys, "models", "pull", NAME)
        assert code == 0, err
        assert "100%" in err and f"generate --sae {NAME}" in out
        code, out, err = run_cli(capsys, "models", "list", "--json")
        row = next(r for r in json.loads(out)["models"] if r.get("name") == "gpt2-small")
        assert row["downloaded"] == {"model": True, "sae": True}
    # The hub is gone and offline mode is on: generation only reads the cache.
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setattr(constants, "HF_HUB_OFFLINE", True)
    code, out, err = run_cli(capsys, "generate", "--sae", NAME, "--prompt", "the quick brown",
                             "--steer", "5=8", "--max-new-tokens", "6", "--device", "cpu", "--json")
    assert code == 0, err
    result = json.loads(out)
    assert result["session"]["hook"]["name"] == "blocks.8.hook_resid_pre"
    assert result["session"]["sae"]["input"] == "centre"      # center_writing_weights honoured
    assert "snapshots" in result["session"]["model"]["path"]
    baseline, steered = result["columns"]
    assert len(baseline["tokens"]) == 6
    ids = [[t["id"] for t in row["tokens"]] for row in (baseline, steered)]
    assert ids[0] != ids[1]


def test_gated_pull_exits_2_with_one_line(monkeypatch, tmp_path, capsys):
    with StandInHub() as hub:
        use_stand_in(monkeypatch, tmp_path, hub)
        hub.add("google/gemma-3-270m-it", Repo({"config.json": b"{}", "model.safetensors": b"x"},
                                               gated=True))
        code, out, err = run_cli(capsys, "models", "pull", "gemma-3-270m-it")
    assert code == 2
    lines = err.strip().splitlines()
    assert len(lines) == 1 and "google/gemma-3-270m-it is gated" in lines[0]
    assert "hf auth login" in lines[0]


def test_sae_by_name_before_pulling_says_how(monkeypatch, tmp_path, capsys):
    with StandInHub() as hub:
        use_stand_in(monkeypatch, tmp_path, hub)
    code, out, err = run_cli(capsys, "generate", "--sae", NAME, "--prompt", "hi")
    assert code == 2
    assert f"not downloaded yet; download it first: steerdesk models pull {NAME}" in err


def test_list_all_marks_pullable_releases(capsys):
    code, out, err = run_cli(capsys, "models", "list", "--all")
    assert code == 0
    assert "gpt2-small-res-jb:blocks.8.hook_resid_pre" in out
    assert "gemma-scope-2-270m-it-res" in out and "llama_scope_lxr_8x" in out
