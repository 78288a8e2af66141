"""`steerdesk evaluate` on a tiny model: the table's figures from the samples by hand (language
judge and a saved classifier), the text table shows them, and bad input exits 2 in one line."""

import json
import statistics

import pytest

from steerdesk.engine.catalog.contrast_sets import Classifier
from steerdesk.pocket.language_judge import judge

INSTR = "Der schnelle Fuchs"


@pytest.fixture
def files(tmp_path):
    preset = tmp_path / "de.json"
    preset.write_text(json.dumps({"name": "speak German", "unit": "raw",
                                  "prompt_equivalent": INSTR,
                                  "features": [{"index": 3, "strength": 20.0}]}))
    prompts = tmp_path / "prompts.txt"
    prompts.write_text("hello world\n\nthe quick brown\nEl zorro\n")
    return preset, prompts


def _args(tiny, preset, prompts, *extra):
    model, sae = tiny
    return ["evaluate", "--model", model, "--sae", sae, "--preset", preset, "--prompts", prompts,
            "--seeds", "2", "--max-new-tokens", "5", *extra]


def _check_figures(out, reached_of):
    assert out["command"] == "evaluate"
    assert [c["column"] for c in out["columns"]] == ["baseline", "steered", "prompted"]
    for c in out["columns"]:
        mine = [s for s in out["samples"] if s["column"] == c["column"]]
        assert len(mine) == c["samples"] == 3 * 2
        assert [s["reached"] for s in mine] == reached_of([s["text"] for s in mine])
        assert c["reached"] == sum(s["reached"] for s in mine) / len(mine)
        ppl = [s["perplexity"] for s in mine if s["perplexity"] is not None]
        assert c["perplexity_mean"] == pytest.approx(statistics.fmean(ppl))
        assert c["perplexity_median"] == pytest.approx(statistics.median(ppl))
    assert {s["prompt"] for s in out["samples"]} == {"hello world", "the quick brown", "El zorro"}


def test_language_judge_figures_and_text_table(cli, tiny, files):
    run = cli(*_args(tiny, *files), "--json")
    assert run.code == 0, run.err
    out = json.loads(run.out)
    assert out["judge"] == {"kind": "language", "language": "de"}
    assert out["settings"]["prompted"] == INSTR
    _check_figures(out, lambda texts: [judge(t) == "de" for t in texts])
    text = cli(*_args(tiny, *files))
    assert text.code == 0, text.err
    lines = text.out.splitlines()
    for c, line in zip(out["columns"], lines[2:]):
        hits = round(c["reached"] * c["samples"])
        assert line.split()[:5] == [c["column"], f"{hits}/{c['samples']}",
                                    f"{c['reached']:.0%}", f"{c['perplexity_mean']:.1f}",
                                    f"{c['perplexity_median']:.1f}"]


def test_classifier_figures(cli, tiny, files, tmp_path):
    clf = Classifier(names=["yes", "no"], features=[3, 7], weights=[1.5, -2.0],
                     center=[0.1, 0.2], scale=[1.0, 0.5], bias=0.05, pool="mean")
    path = tmp_path / "clf.json"
    clf.save(path)
    run = cli(*_args(tiny, *files), "--classifier", path, "--json")
    assert run.code == 0, run.err
    out = json.loads(run.out)
    assert out["judge"]["kind"] == "classifier" and out["judge"]["reached_label"] == "yes"

    from steerdesk.engine.sae import load_sae
    from steerdesk.engine.models import load_model
    from steerdesk.engine.session import attach_sae

    session = attach_sae(load_model(tiny[0]), load_sae(tiny[1]), sae_path=tiny[1])
    _check_figures(out, lambda texts: [r["label"] == "yes" for r in
                                       Classifier.load(path).apply(session, texts)])


def test_bad_input_exits_2_with_one_line(cli, tiny, files, tmp_path):
    preset, prompts = files
    (tmp_path / "empty.txt").write_text("\n")
    nameless = tmp_path / "x.json"
    nameless.write_text(json.dumps({"name": "x", "features": [{"index": 3, "strength": 1}]}))
    (tmp_path / "bad_clf.json").write_text("{}")
    cases = [
        (_args(tiny, preset, tmp_path / "none.txt"), "no such prompts file"),
        (_args(tiny, preset, tmp_path / "empty.txt"), "has no prompts"),
        (_args(tiny, nameless, prompts), "--language"),
        (_args(tiny, tmp_path / "missing.json", prompts), "missing.json"),
        (_args(tiny, preset, prompts, "--classifier", tmp_path / "bad_clf.json"),
         "not a steerdesk classifier"),
        (_args(tiny, preset, prompts, "--classifier", tmp_path / "bad_clf.json",
               "--language", "de"), "without --judge and --language"),
        (_args(tiny, preset, prompts, "--seeds", "0"), "--seeds"),
        (_args(tiny, preset, prompts, "--prompted", " "), "instruction is empty"),
    ]
    for argv, words in cases:
        run = cli(*argv)
        assert run.code == 2, (argv, run.err)
        assert len(run.err_lines) == 1 and words in run.err_lines[0], run.err
