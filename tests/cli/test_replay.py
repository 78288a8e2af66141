"""generate --replay RUN.json: a run rerun from its own record, and the one line that says which
check failed when the files differ."""

import json
import shutil

import pytest
import torch

from tests.cli.conftest import D_SAE, write_catalog


@pytest.fixture
def pair(tiny, tmp_path):
    """A private copy of the tiny pair: these tests change its files."""
    model, sae = tiny
    return (shutil.copytree(model, tmp_path / "model"), shutil.copytree(sae, tmp_path / "sae"))


def _record(cli, model, sae, tmp_path, *extra):
    run = cli("generate", "--model", model, "--sae", sae, "--prompt", "the quick brown",
              "--steer", "3=2,5=ablate", "--steer", "7=clamp:1.5", "--unit", "max",
              "--max-new-tokens", "6", "--watch", "3,7", *extra, "--json")
    assert run.code == 0, run.err
    path = tmp_path / "run.json"
    path.write_text(run.out)
    return path, json.loads(run.out)


def _ids(record):
    return [[t["id"] for t in c["tokens"]] for c in record["columns"]]


def test_a_unit_max_run_replays_with_another_catalog_beside_the_sae(cli, pair, tmp_path):
    model, sae = pair
    path, record = _record(cli, model, sae, tmp_path)
    feats = record["columns"][1]["steering"]["features"]
    assert feats[0]["max_activation"] == pytest.approx(0.5 + 3 / 10)
    assert feats[0]["raw_strength"] == pytest.approx(2 * (0.5 + 3 / 10))
    # Another catalog: every max activation three times larger.
    write_catalog(sae, 3 * (0.5 + torch.arange(D_SAE) / 10))
    fresh = json.loads(cli("generate", "--model", model, "--sae", sae, "--prompt",
                           "the quick brown", "--steer", "3=2,5=ablate", "--steer",
                           "7=clamp:1.5", "--unit", "max", "--max-new-tokens", "6", "--json").out)
    assert fresh["columns"][1]["steering"]["features"][0]["raw_strength"] == pytest.approx(
        6 * (0.5 + 3 / 10))                  # the same command now steers three times harder
    replay = cli("generate", "--replay", path, "--json")
    assert replay.code == 0, replay.err
    again = json.loads(replay.out)
    assert _ids(again) == _ids(record)      # the recorded raw strengths: the same tokens
    assert again["replay"] == {"of": str(path), "reproduced": True, "difference": None}
    assert replay.err_lines == [
        "steerdesk: warning: the catalog beside the SAE is not the one the run's 'x max' "
        "strengths came from; the recorded raw strengths are used, so this changes nothing",
        "steerdesk: replay: every column's tokens are the record's (3 columns)"]


def test_a_sampled_run_replays_token_for_token(cli, pair, tmp_path):
    model, sae = pair
    path, record = _record(cli, model, sae, tmp_path, "--temperature", "0.9", "--top-k", "8",
                           "--seed", "4", "--top-features", "3", "--prompt-logprobs")
    replay = cli("generate", "--replay", path, "--json")
    assert replay.code == 0, replay.err
    again = json.loads(replay.out)
    assert _ids(again) == _ids(record)
    assert again["sampling"] == record["sampling"] and again["readout"] == record["readout"]
    def prompt_logprobs(rec):
        return [t["logprob"] for c in rec["columns"] for t in c["prompt_tokens"][1:]]
    assert prompt_logprobs(again) == pytest.approx(prompt_logprobs(record), abs=1e-5)
    text = cli("generate", "--replay", path)
    assert text.code == 0 and "=== baseline" in text.out


def test_changed_sae_weights_stop_the_replay_with_one_line(cli, pair, tmp_path):
    from safetensors.torch import load_file, save_file

    model, sae = pair
    path, _ = _record(cli, model, sae, tmp_path)
    weights = load_file(str(sae / "sae_weights.safetensors"))
    weights["W_dec"][3] *= 2
    save_file(weights, str(sae / "sae_weights.safetensors"))
    run = cli("generate", "--replay", path)
    assert run.code == 2 and len(run.err_lines) == 1 and run.out == ""
    assert f"the SAE files at {sae} differ from the run's (sha256 " in run.err


def test_a_moved_model_is_found_with_model_and_checked_by_its_hash(cli, pair, tmp_path):
    model, sae = pair
    path, record = _record(cli, model, sae, tmp_path)
    moved = model.rename(tmp_path / "elsewhere")
    run = cli("generate", "--replay", path)
    assert run.code == 2 and run.err_lines == [
        f"steerdesk: replay of {path}: the model {model} is not there any more; say where it "
        "is now with --model PATH"]
    run = cli("generate", "--replay", path, "--model", moved, "--json")
    assert run.code == 0, run.err
    assert _ids(json.loads(run.out)) == _ids(record)


def test_tokens_that_differ_are_reported_with_exit_1(cli, pair, tmp_path):
    model, sae = pair
    path, record = _record(cli, model, sae, tmp_path)
    record["columns"][2]["tokens"][4]["id"] += 1            # as if the run had gone otherwise
    path.write_text(json.dumps(record))
    run = cli("generate", "--replay", path, "--json")
    assert run.code == 1
    assert json.loads(run.out)["replay"]["reproduced"] is False
    assert run.err_lines[-1] == (f"steerdesk: replay: column {record['columns'][2]['name']!r} "
                                 "differs from the record at new token 4 (6 tokens now, 6 then)")


@pytest.mark.parametrize("content, message", [
    ("{not json", "not a readable JSON run record"),
    ('{"command": "features text", "schema": 1}', "not the record of a steerdesk generate run"),
    ('{"command": "generate", "schema": 99}', "a record of schema 99"),
    ('{"command": "generate", "schema": 1}', "the record has no session"),
])
def test_a_record_that_is_not_one_is_one_line(cli, tmp_path, content, message):
    path = tmp_path / "r.json"
    path.write_text(content)
    run = cli("generate", "--replay", path)
    assert run.code == 2 and len(run.err_lines) == 1 and message in run.err


def test_run_options_given_with_replay_are_said_to_be_unused(cli, pair, tmp_path):
    model, sae = pair
    path, record = _record(cli, model, sae, tmp_path)
    run = cli("generate", "--replay", path, "--prompt", "other", "--temperature", "0.5",
              "--json")
    assert run.code == 0 and _ids(json.loads(run.out)) == _ids(record)
    assert run.err_lines[0] == ("steerdesk: warning: --prompt, --temperature: not used with "
                                "--replay, which reruns the record's own prompt, steering, "
                                "sampling and readout")
