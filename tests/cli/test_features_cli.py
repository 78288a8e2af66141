"""`steerdesk features ...` and `steerdesk catalog ...`, run through the main CLI in-process."""

import json

import pytest
from threads import torch_threads

from steerdesk.cli import main as cli_main
from steerdesk.testing.tiny import make_model, make_sae


@pytest.fixture(scope="module", autouse=True)
def with_our_subcommands():
    """main.py lists its subcommands; make sure ours are there (they may not be listed yet)."""
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(cli_main, "SUBCOMMANDS",
                   tuple(dict.fromkeys(cli_main.SUBCOMMANDS + ("features", "catalog"))))
        with torch_threads(1):
            yield


@pytest.fixture(scope="module")
def pair(tmp_path_factory):
    root = tmp_path_factory.mktemp("fcli")
    model = make_model(root / "model", "llama", d=32, layers=2)
    sae = make_sae(root / "sae", d_in=32, d_sae=48, arch="topk", hook="blocks.1.hook_resid_post")
    corpus = root / "corpus"
    corpus.mkdir()
    (corpus / "a.txt").write_text("the quick brown fox jumps over the lazy dog.\n\n"
                                  "hello world, steering models is fun!\n")
    (corpus / "b.jsonl").write_text(
        json.dumps({"text": "Der schnelle braune Fuchs springt.", "lang": "de"}) + "\n"
        + json.dumps({"text": "El zorro marron salta sobre el perro.", "lang": "es"}) + "\n")
    return model, sae, corpus


def run(capsys, *args):
    code = cli_main.main([str(a) for a in args])
    out = capsys.readouterr()
    return code, out.out, out.err


@pytest.fixture(scope="module")
def built(pair, tmp_path_factory):
    model, sae, corpus = pair
    code = cli_main.main(["catalog", "build", "--model", str(model), "--sae", str(sae),
                          "--corpus", str(corpus), "--context", "32", "--json"])
    assert code == 0
    return pair


def test_build_and_search_show(built, capsys):
    _, sae, _ = built
    assert (sae / "catalog" / "catalog.json").is_file()
    code, out, _ = run(capsys, "catalog", "info", "--sae", sae, "--json")
    info = json.loads(out)
    assert code == 0 and info["manifest"]["d_sae"] == 48 and info["manifest"]["tokens"] > 0
    code, out, _ = run(capsys, "features", "show", "--sae", sae, "3", "--json")
    rec = json.loads(out)["feature"]
    assert code == 0 and rec["index"] == 3 and "snippets" in rec and "histogram" in rec
    automatic = json.loads((sae / "catalog" / "labels.json").read_text())["automatic"]
    label = next(lbl for lbl in automatic if lbl)
    code, out, _ = run(capsys, "features", "search", "--sae", sae, label, "--json")
    res = json.loads(out)
    assert code == 0 and res["features"][0]["label"] == label and res["by"] == "words"
    code, out, _ = run(capsys, "features", "show", "--sae", sae, "3")
    assert code == 0 and out.startswith("feature 3")


def test_import_and_user_labels(built, capsys, tmp_path):
    _, sae, _ = built
    f = tmp_path / "np.json"
    f.write_text(json.dumps([{"modelId": "m", "layer": "1-res", "index": "4",
                              "description": "four things"}]))
    code, out, _ = run(capsys, "catalog", "import", "--sae", sae, f, "--json")
    assert code == 0 and json.loads(out)["imported"] == 1
    code, out, _ = run(capsys, "features", "search", "--sae", sae, "FOUR things", "--json")
    assert json.loads(out)["features"][0]["index"] == 4
    csv = tmp_path / "l.csv"
    csv.write_text("index,label\n5,five\n")
    code, out, _ = run(capsys, "catalog", "import", "--sae", sae, csv)
    assert code == 0 and "imported 1 labels" in out


def test_text_and_contrast(built, capsys, tmp_path):
    model, sae, _ = built
    code, out, _ = run(capsys, "features", "text", "--model", model, "--sae", sae,
                       "the quick brown fox", "--limit", "5", "--json")
    res = json.loads(out)
    assert code == 0 and 0 < len(res["features"]) <= 5 and res["by"] == "max"
    from steerdesk.engine.catalog import Catalog

    cat = Catalog(sae / "catalog")
    assert [f["label"] for f in res["features"]] == [cat.label(f["index"]) or None
                                                    for f in res["features"]]
    a, b = tmp_path / "spam.txt", tmp_path / "ham.txt"
    a.write_text("buy cheap pills now\nwin money fast\nfree prize click\n")
    b.write_text("the quick brown fox\nhello world\nsteering models is fun\n")
    clf = tmp_path / "clf.json"
    code, out, _ = run(capsys, "features", "contrast", "--model", model, "--sae", sae,
                       "--a", a, "--b", b, "--save-classifier", clf, "--json")
    res = json.loads(out)
    assert code == 0 and res["a"]["texts"] == 3 and res["features"]
    assert res["classifier"]["names"] == ["spam", "ham"]
    assert clf.is_file()
    code, out, _ = run(capsys, "features", "classify", "--model", model, "--sae", sae,
                       "--classifier", clf, "win money now", "--json")
    assert code == 0 and json.loads(out)["texts"][0]["label"] in ("spam", "ham")


def test_bad_input_exits_2(pair, capsys, tmp_path):
    model, sae, _ = pair
    code, _, err = run(capsys, "catalog", "build", "--model", model, "--sae", sae,
                       "--corpus", tmp_path / "missing.txt")
    assert code == 2 and "missing.txt: no such corpus file or folder" in err
    assert err.count("\n") == 1
    bad = tmp_path / "bad.json"
    bad.write_text("[{not json")
    code, _, err = run(capsys, "catalog", "import", "--sae", sae, bad)
    assert code == 2 and "bad.json: not valid JSON" in err and err.count("\n") == 1
    code, _, err = run(capsys, "features", "show", "--sae", tmp_path, "1")
    assert code == 2 and "no feature catalog" in err
    empty_a = tmp_path / "e.txt"
    empty_a.write_text("\n\n")
    code, _, err = run(capsys, "features", "contrast", "--model", model, "--sae", sae,
                       "--a", empty_a, "--b", empty_a)
    assert code == 2 and "holds no texts" in err
