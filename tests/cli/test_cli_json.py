"""The JSON of every command, key by key as docs/json.md describes it: one envelope, one family
of objects, compact by default. A change of shape must change this file and the document."""

import contextlib
import io
import json
import re
import subprocess
import sys
from pathlib import Path
from types import SimpleNamespace

import pytest

ROOT = Path(__file__).resolve().parents[2]
ENVELOPE = {"schema", "command", "versions"}
VERSIONS = {"steerdesk", "python", "torch", "transformers", "safetensors"}
MODEL = {"name", "path", "sha256", "device", "dtype", "model_type", "d_model", "parameters",
         "split", "placement"}
SAE = {"path", "sha256", "format", "architecture", "d_in", "d_sae", "k", "input"}
SESSION = {"model", "sae", "hook", "catalog"}
CATALOG = {"path", "stats_sha256"}


def _json(run):
    assert run.code == 0, run.err
    assert run.out.count("\n") == 1, "compact JSON is one line"
    out = json.loads(run.out)
    assert ENVELOPE <= set(out) and out["schema"] == 1 and set(out["versions"]) == VERSIONS
    return out


def _check_session(session):
    assert set(session) == SESSION
    assert set(session["model"]) == MODEL and set(session["sae"]) == SAE
    assert set(session["hook"]) == {"name", "module", "in_files"}
    assert set(session["catalog"]) == CATALOG
    assert re.fullmatch(r"[0-9a-f]{64}", session["model"]["sha256"])
    assert re.fullmatch(r"[0-9a-f]{64}", session["sae"]["sha256"])


@pytest.fixture(scope="module")
def record(tiny, tmp_path_factory):
    """One generate record with everything asked for, written to a file."""
    from steerdesk.cli.main import main

    model, sae = tiny
    path = tmp_path_factory.mktemp("rec") / "run.json"
    out = io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(io.StringIO()):
        code = main(["generate", "--model", str(model), "--sae", str(sae), "--prompt",
                     "the quick brown", "--steer", "3=2,5=ablate", "--steer", "7=clamp:1.5",
                     "--unit", "max", "--max-new-tokens", "4", "--top-features", "2",
                     "--prompt-logprobs", "--threads", "1", "--json"])
    assert code == 0
    path.write_text(out.getvalue())
    return SimpleNamespace(path=path, data=json.loads(out.getvalue()))


def test_generate_keys(record):
    out = record.data
    assert set(out) == ENVELOPE | {"session", "run", "sampling", "prompt", "readout", "columns"}
    assert out["command"] == "generate"
    _check_session(out["session"])
    assert set(out["run"]) == {"threads", "seconds", "first_token_seconds", "finish_reason", "decode"}
    assert out["run"]["decode"] == "eager"
    assert out["sampling"] == {"max_new_tokens": 4, "temperature": 0.0, "top_k": 0, "top_p": 1.0,
                               "repetition_penalty": 1.0, "seed": 0, "stop_at_eos": True}
    assert set(out["prompt"]) == {"text", "chat", "chat_template_used", "tokens"}
    assert all(set(t) == {"id", "text"} for t in out["prompt"]["tokens"])
    assert out["readout"] == {"watch": [{"index": 3, "label": "three things"},
                                        {"index": 5, "label": "fives"},
                                        {"index": 7, "label": None}],
                              "top_features_per_token": 2, "prompt_logprobs": True}
    baseline, *steered = out["columns"]
    for col in out["columns"]:
        assert set(col) == {"name", "kind", "steering", "text", "finish_reason", "metrics",
                            "tokens", "prompt_tokens"}
        assert set(col["metrics"]) == {"new_tokens", "mean_logprob", "perplexity", "reach"}
        for tok in col["tokens"]:
            assert set(tok) == {"id", "text", "logprob", "watched", "top_features"}
            assert [set(w) for w in tok["watched"]] == [{"index", "activation"}] * 3
            assert [set(f) for f in tok["top_features"]] == [{"index", "activation"}] * 2
        assert len(col["prompt_tokens"]) == len(out["prompt"]["tokens"])
        assert all(set(t) == {"logprob", "watched", "top_features"} for t in col["prompt_tokens"])
        assert col["prompt_tokens"][0]["logprob"] is None
    assert baseline["kind"] == "baseline" and baseline["steering"] is None
    assert [c["kind"] for c in steered] == ["steered", "steered"]
    steering = steered[0]["steering"]
    assert set(steering) == {"unit", "positions", "catalog", "features", "rules", "vectors"}
    assert steering["vectors"] == []
    assert steering["unit"] == "max" and steering["catalog"] == out["session"]["catalog"]
    assert steering["features"] == [
        {"index": 3, "label": "three things", "mode": "add", "strength": 2.0,
         "raw_strength": pytest.approx(2 * 0.8), "max_activation": pytest.approx(0.8)},
        {"index": 5, "label": "fives", "mode": "ablate", "strength": 0.0, "raw_strength": 0.0,
         "max_activation": None}]
    assert steered[1]["steering"]["features"][0]["raw_strength"] == pytest.approx(1.5 * 1.2)


def test_indent_is_the_same_object_for_humans(cli, tiny):
    model, sae = tiny
    run = cli("features", "text", "--model", model, "--sae", sae, "hello", "--indent", "2")
    assert run.code == 0 and run.out.count("\n") > 5 and run.out.startswith('{\n  "schema": 1')
    assert json.loads(run.out)["command"] == "features text"


def test_features_text_and_inspect_keys(cli, tiny):
    model, sae = tiny
    for argv in (["features", "text", "hello world"], ["inspect", "--text", "hello world"]):
        out = _json(cli(*argv, "--model", model, "--sae", sae, "--limit", "3", "--json"))
        assert set(out) == ENVELOPE | {"session", "run", "text", "by", "limit", "tokens",
                                       "features"}
        assert out["command"] == "features text" and set(out["run"]) == {"threads"}
        _check_session(out["session"])
        assert all(set(t) == {"id", "text"} for t in out["tokens"])
        assert [set(f) for f in out["features"]] == [{"index", "label", "activation",
                                                      "peak_token"}] * 3


def test_features_search_and_show_keys(cli, tiny):
    _, sae = tiny
    out = _json(cli("features", "search", "--sae", sae, "three", "--json"))
    assert set(out) == ENVELOPE | {"session", "query", "by", "limit", "features"}
    assert set(out["session"]) == {"catalog"} and set(out["session"]["catalog"]) == CATALOG
    # a substring at a word start covering 5 of 12 characters: 2 + 0.5 + 0.49 * 5 / 12
    assert out["features"][0] == {"index": 3, "label": "three things",
                                  "score": pytest.approx(2 + 0.5 + 0.49 * 5 / 12, abs=1e-4),
                                  "label_source": "hand", "max_activation": pytest.approx(0.8),
                                  "density": None}
    out = _json(cli("features", "show", "--sae", sae, "5", "--json"))
    assert set(out) == ENVELOPE | {"session", "feature"}
    assert set(out["feature"]) == {"index", "label", "label_source", "labels_by_source",
                                   "max_activation", "density", "histogram", "promoted",
                                   "suppressed", "snippets"}
    assert out["feature"]["index"] == 5 and out["feature"]["label"] == "fives"


def test_contrast_and_classify_keys(cli, tiny, tmp_path):
    model, sae = tiny
    a, b = tmp_path / "spam.txt", tmp_path / "ham.txt"
    a.write_text("buy cheap pills now\nwin money fast\n")
    b.write_text("the quick brown fox\nhello world\n")
    clf = tmp_path / "clf.json"
    out = _json(cli("features", "contrast", "--model", model, "--sae", sae, "--a", a, "--b", b,
                    "--limit", "4", "--classifier-features", "2", "--save-classifier", clf,
                    "--json"))
    assert set(out) == ENVELOPE | {"session", "run", "a", "b", "pool", "limit", "features",
                                   "classifier"}
    assert out["a"] == {"name": "spam", "path": str(a), "texts": 2}
    assert [set(f) for f in out["features"]] == [{"index", "label", "score", "auroc", "mean_a",
                                                  "mean_b"}] * 4
    assert len(out["classifier"]["features"]) == 2 and out["classifier"]["path"] == str(clf)
    out = _json(cli("features", "classify", "--model", model, "--sae", sae, "--classifier", clf,
                    "win money", "--json"))
    assert set(out) == ENVELOPE | {"session", "run", "classifier", "texts"}
    assert set(out["classifier"]) == {"path", "names", "features"}
    assert [set(t) for t in out["texts"]] == [{"text", "label", "p_a"}]


def test_catalog_keys(cli, tiny, tmp_path):
    import shutil

    model, sae = tiny
    sae = shutil.copytree(sae, tmp_path / "sae")
    corpus = tmp_path / "c.txt"
    corpus.write_text("the quick brown fox jumps over the lazy dog.\n\nhello world again.\n")
    out = _json(cli("catalog", "build", "--model", model, "--sae", sae, "--corpus", corpus,
                    "--context", "16", "--limit", "3", "--logit-tokens", "0", "--restart",
                    "--json"))
    assert set(out) == ENVELOPE | {"session", "run", "catalog", "corpus", "snippets_per_feature",
                                   "tokens", "d_sae", "features_active"}
    assert out["snippets_per_feature"] == 3 and out["d_sae"] == 48
    out = _json(cli("catalog", "info", "--sae", sae, "--json"))
    assert set(out) == ENVELOPE | {"session", "manifest", "labelled", "labels_by_source",
                                   "features_active"}
    labels = tmp_path / "l.csv"
    labels.write_text("index,label\n4,four\n")
    out = _json(cli("catalog", "import", "--sae", sae, labels, "--json"))
    assert set(out) == ENVELOPE | {"session", "path", "imported", "explanations", "duplicates",
                                   "out_of_range", "shadowed_by_user", "source", "warnings"}


def test_models_list_keys(cli):
    out = _json(cli("models", "list", "--json"))
    assert set(out) == ENVELOPE | {"models", "releases"} and out["releases"] == []
    assert {"name", "sae", "model", "download", "licence", "needs", "downloaded", "good_for",
            "neuronpedia"} == set(out["models"][0])


def test_the_readmes_script_reads_a_record(record):
    """The README shows a researcher's script that reads a generate record: it runs."""
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    section = readme.split("### Reading the JSON", 1)[1]
    script = section.split("```python\n", 1)[1].split("```", 1)[0]
    assert len([ln for ln in script.splitlines() if ln.strip()]) <= 10
    run = subprocess.run([sys.executable, "-c", script, str(record.path)], capture_output=True,
                         text=True, timeout=60)
    assert run.returncode == 0, run.stderr
    lines = run.stdout.splitlines()
    assert lines[0] == f"model model {record.data['session']['model']['sha256'][:12]}"
    assert lines[1].startswith("baseline: ") and "perplexity" in lines[1]
    assert "#3 add 2.0 max = 1.600 raw" in lines[2]
