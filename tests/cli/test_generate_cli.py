"""The CLI as a user runs it: a real process, its stdout, stderr and exit code."""

import json
import math
import subprocess
import sys

import pytest

from steerdesk.testing.tiny import make_model, make_sae


@pytest.fixture(scope="module")
def pair(tmp_path_factory):
    root = tmp_path_factory.mktemp("cli")
    return (make_model(root / "model", "gpt2", d=32, layers=2),
            make_sae(root / "sae", d_in=32, d_sae=48, arch="topk", hook="blocks.1.hook_resid_pre"))


def steerdesk(*args):
    """A real process: exit code, stdout and stderr as a user sees them."""
    return subprocess.run([sys.executable, "-m", "steerdesk.cli.main", *map(str, args)],
                          capture_output=True, text=True, timeout=300)


def steerdesk_here(capsys, *args):
    """The same entry point in this process (no torch start-up per call)."""
    from types import SimpleNamespace

    from steerdesk.cli.main import main

    code = main([str(a) for a in args])
    out = capsys.readouterr()
    return SimpleNamespace(returncode=code, stdout=out.out, stderr=out.err)


def test_generate_json(pair):
    model, sae = pair
    run = steerdesk("generate", "--model", model, "--sae", sae, "--prompt", "the quick",
                    "--steer", "3=9", "--steer", "4=0,5=2", "--max-new-tokens", "5",
                    "--watch", "3,5", "--json")
    assert run.returncode == 0, run.stderr
    assert "\n" not in run.stdout.strip()            # compact: one line
    out = json.loads(run.stdout)
    assert out["schema"] == 1 and out["command"] == "generate"
    assert out["session"]["hook"]["name"] == "blocks.1.hook_resid_pre"
    first = out["prompt"]["tokens"][0]
    assert first == {"id": 0, "text": "<|endoftext|>"}  # BOS is in prompt.tokens
    assert [c["kind"] for c in out["columns"]] == ["baseline", "steered", "steered"]
    assert [c["name"] for c in out["columns"][1:]] == ["add #3 +9.00 raw",
                                                       "add #4 +0.00 raw; add #5 +2.00 raw"]
    for col in out["columns"]:
        assert len(col["tokens"]) == 5 and col["metrics"]["new_tokens"] == 5
        assert "".join(t["text"] for t in col["tokens"]) == col["text"]
        assert all(t["logprob"] <= 0 and math.isfinite(t["logprob"]) for t in col["tokens"])
        assert [w["index"] for w in col["tokens"][0]["watched"]] == [3, 5]
        assert len(col["prompt_tokens"]) == len(out["prompt"]["tokens"])
        assert col["metrics"]["mean_logprob"] == pytest.approx(
            sum(t["logprob"] for t in col["tokens"]) / 5)
    assert out["columns"][1]["text"] != out["columns"][0]["text"]
    # The baseline is decoded by the unsteered model, so its scoring pass gives back its own
    # log-probs; reach is the first watched feature's mean over the new tokens.
    base = out["columns"][0]["metrics"]
    assert base["perplexity"] == pytest.approx(math.exp(-base["mean_logprob"]), rel=1e-4)
    for col in out["columns"]:
        acts = [t["watched"][0]["activation"] for t in col["tokens"]]
        assert col["metrics"]["reach"] == pytest.approx(sum(acts) / len(acts))
        assert math.isfinite(col["metrics"]["perplexity"]) and col["metrics"]["perplexity"] >= 1


def test_generate_text_output(capsys, pair):
    model, sae = pair
    run = steerdesk_here(capsys, "generate", "--model", model, "--sae", sae, "--prompt", "hi",
                    "--steer", "1=2", "--max-new-tokens", "3")
    assert run.returncode == 0, run.stderr
    assert "=== baseline" in run.stdout and "=== add #1 +2.00 raw" in run.stdout


def test_inspect_is_features_text_and_ranks_as_the_engine_reads(capsys, pair):
    from steerdesk.engine.reading import text_activations
    from steerdesk.engine.session import open_session

    model, sae = pair
    text = "hello world, the quick fox"
    inspect = steerdesk_here(capsys, "inspect", "--model", model, "--sae", sae, "--text", text,
                             "--limit", "4", "--by", "mean", "--json")
    assert inspect.returncode == 0, inspect.stderr
    features_text = steerdesk_here(capsys, "features", "text", "--model", model, "--sae", sae,
                                   text, "--limit", "4", "--by", "mean", "--json")
    strip = lambda o: {k: v for k, v in json.loads(o).items() if k != "run"}  # noqa: E731
    assert strip(inspect.stdout) == strip(features_text.stdout)   # one code path, one record
    out = json.loads(inspect.stdout)
    assert out["command"] == "features text" and out["limit"] == 4
    assert out["by"] == "mean" and out["tokens"][0]["text"] == "<|endoftext|>"
    # the same ranking computed here, from one direct reading: the mean over the text's tokens
    # without the BOS, and the token where each feature peaks
    ids, acts, keep = text_activations(open_session(model, sae), [text])[0]
    assert [t["id"] for t in out["tokens"]] == ids and not keep[0] and keep[1:].all()
    mean = acts[1:].mean(0)
    want = mean.topk(4).indices.tolist()
    assert [f["index"] for f in out["features"]] == want
    for f in out["features"]:
        assert set(f) == {"index", "label", "activation", "peak_token"}
        assert abs(f["activation"] - float(mean[f["index"]])) < 1e-5
        assert f["peak_token"] == 1 + int(acts[1:, f["index"]].argmax())
    by_max = json.loads(steerdesk_here(capsys, "inspect", "--model", model, "--sae", sae,
                                       "--text", text, "--json").stdout)["features"]
    assert [f["activation"] for f in by_max[:3]] == sorted(acts[1:].max(0).values.tolist(),
                                                           reverse=True)[:3]


@pytest.mark.parametrize("extra, message", [
    (["--steer", "999=1"], "feature index 999 is out of range"),
    (["--steer", "3:1"], "is not IDX=STRENGTH"),
    (["--watch", "a,b"], "--watch"),
    (["--hook", "blocks.7.hook_resid_post"], "layer 7 does not exist"),
    (["--unit", "max", "--steer", "3=1"], "no feature catalog; build one from your own text, or "
                                           "give raw strengths; build one with 'steerdesk catalog "
                                           "build', or use --unit raw"),
])
def test_bad_input_exits_2_with_one_line(capsys, pair, extra, message):
    model, sae = pair
    run = steerdesk_here(capsys, "generate", "--model", model, "--sae", sae, "--prompt", "x", *extra)
    assert run.returncode == 2
    assert message in run.stderr and "Traceback" not in run.stderr
    assert len(run.stderr.strip().splitlines()) == 1


def test_missing_sae_file(capsys, pair, tmp_path):
    model, _ = pair
    run = steerdesk_here(capsys, "generate", "--model", model, "--sae", tmp_path / "none", "--prompt", "x")
    assert run.returncode == 2 and "none: no such file or folder" in run.stderr


def test_pickle_needs_a_yes(capsys, pair, tmp_path):
    import torch

    model, _ = pair
    (tmp_path / "sae.pt").write_bytes(b"not really")
    torch.save({"x": torch.zeros(1)}, tmp_path / "ae.pt")
    run = steerdesk_here(capsys, "generate", "--model", model, "--sae", tmp_path / "ae.pt", "--prompt", "x")
    assert run.returncode == 2 and "--allow-pickle" in run.stderr


def test_width_mismatch(capsys, pair, tmp_path):
    model, _ = pair
    sae = make_sae(tmp_path / "wide", d_in=40, d_sae=16, hook="blocks.0.hook_resid_post")
    run = steerdesk_here(capsys, "generate", "--model", model, "--sae", sae, "--prompt", "x")
    assert run.returncode == 2 and "d_in=40 does not match" in run.stderr and "32 wide" in run.stderr


def test_nan_weights(capsys, pair, tmp_path):
    from safetensors.torch import load_file, save_file

    model, sae = pair
    bad = tmp_path / "nan"
    bad.mkdir()
    (bad / "cfg.json").write_text((sae / "cfg.json").read_text())
    t = load_file(str(sae / "sae_weights.safetensors"))
    t["W_dec"][3, 1] = float("nan")
    save_file(t, str(bad / "sae_weights.safetensors"))
    run = steerdesk_here(capsys, "generate", "--model", model, "--sae", bad, "--prompt", "x")
    assert run.returncode == 2 and "'W_dec' holds NaN or Inf" in run.stderr


def test_help_lists_subcommands_and_version():
    run = steerdesk("--help")
    assert run.returncode == 0 and "generate" in run.stdout and "inspect" in run.stdout
    assert steerdesk("--version").stdout.startswith("steerdesk ")
