"""The CLI's options as a researcher meets them: anywhere on the line, checked values in one
line, a 'did you mean', old spellings with a note, a warning for every flag that would do
nothing, and help that shows its defaults."""

import argparse
import json

import pytest

from steerdesk.cli.main import build_parser
from steerdesk.cli.parsing import hoist_options

FLAGS = {"--model": True, "--device": True, "--allow-pickle": False}
COMMANDS = ("generate", "features")


@pytest.mark.parametrize("argv, want", [
    (["--device", "cpu", "generate", "--prompt", "x"], ["generate", "--prompt", "x", "--device", "cpu"]),
    (["--device=cpu", "--allow-pickle", "features", "text", "hi"],
     ["features", "text", "hi", "--device=cpu", "--allow-pickle"]),
    (["--model", "m", "generate", "--prompt", "x", "--", "-y"],
     ["generate", "--prompt", "x", "--model", "m", "--", "-y"]),
    (["--device", "cpu"], ["--device", "cpu"]),                          # the app
    (["--device", "cpu", "--prompt", "x"], ["--device", "cpu", "--prompt", "x"]),   # the app
    (["generate", "--device", "cpu"], ["generate", "--device", "cpu"]),
])
def test_session_options_before_the_subcommand_go_after_it(argv, want):
    assert hoist_options(argv, COMMANDS, FLAGS) == want


def _ids(record):
    return [[t["id"] for t in c["tokens"]] for c in record["columns"]]


def test_options_before_and_after_the_subcommand_give_the_same_run(cli, tiny):
    model, sae = tiny
    after = cli("generate", "--model", model, "--sae", sae, "--prompt", "the quick", "--steer",
                "3=4", "--max-new-tokens", "3", "--threads", "1", "--json")
    before = cli("--model", model, "--sae", sae, "--threads", "1", "generate", "--prompt",
                 "the quick", "--steer", "3=4", "--max-new-tokens", "3", "--json")
    assert after.code == before.code == 0, after.err + before.err
    assert _ids(json.loads(after.out)) == _ids(json.loads(before.out))
    assert json.loads(before.out)["run"]["threads"] == 1
    nested = cli("--model", model, "--sae", sae, "features", "text", "hello", "--json")
    assert nested.code == 0 and json.loads(nested.out)["command"] == "features text"


@pytest.mark.parametrize("argv, usage, suggestion", [
    (["generate", "--prompt", "x", "--temprature", "1"], "usage: steerdesk generate",
     "unknown option --temprature; did you mean --temperature?"),
    (["features", "text", "hi", "--limt", "3"], "usage: steerdesk features text",
     "unknown option --limt; did you mean --limit?"),
    (["catalog", "build", "--corpus", "c", "--top-kk", "3"], "usage: steerdesk catalog build",
     "unknown option --top-kk; did you mean"),
])
def test_an_unknown_option_gets_the_subcommands_usage_and_a_suggestion(cli, argv, usage,
                                                                        suggestion):
    run = cli(*argv)
    assert run.code == 2 and run.err.startswith(usage) and suggestion in run.err_lines[-1]
    assert "desktop app" not in run.err and "--screenshot" not in run.err


def test_a_mistyped_subcommand_or_choice_gets_a_suggestion(cli):
    run = cli("generat", "--prompt", "x")
    assert run.code == 2 and "did you mean 'generate'?" in run.err_lines[-1]
    run = cli("generate", "--prompt", "x", "--mode", "abl")
    assert run.code == 2 and run.err_lines == [
        "steerdesk generate: argument --mode: invalid choice: 'abl'; did you mean 'ablate'?"]


def test_a_session_option_where_no_model_is_opened_says_where_it_goes(cli):
    run = cli("--device", "cpu", "models", "list")
    assert run.code == 2 and len(run.err_lines) == 1
    assert run.err_lines[0].startswith("steerdesk models list: no --device here; --device goes "
                                       "with generate, evaluate, inspect")


@pytest.mark.parametrize("argv, message", [
    (["generate", "--prompt", "x", "--steer", "3=1e999"], "feature 3: strength inf is not a finite number"),
    (["generate", "--prompt", "x", "--steer", "3=clamp:-1e999"], "is not a finite number"),
    (["generate", "--prompt", "x", "--temperature", "nan"], "--temperature: nan is not a finite number"),
    (["generate", "--prompt", "x", "--temperature", "inf"], "--temperature: inf is not a finite number"),
    (["generate", "--prompt", "x", "--temperature", "-1"], "temperature -1.0: must be 0 (greedy) or more"),
    (["generate", "--prompt", "x", "--repetition-penalty", "nan"], "is not a finite number"),
    (["generate", "--prompt", "x", "--repetition-penalty", "inf"], "is not a finite number"),
    (["generate", "--prompt", "x", "--repetition-penalty", "0"], "repetition penalty 0.0: must be above 0"),
    (["generate", "--prompt", "x", "--max-new-tokens", "10000000000"],
     "max new tokens 10000000000: must be a whole number from 0 to 65,536"),
    (["generate", "--prompt", "x", "--top-k", "-1"], "top-k -1: must be 0 (off) or more"),
    (["generate", "--prompt", "x", "--top-p", "1.5"], "top-p 1.5: must be in (0, 1]"),
    (["generate", "--prompt", "x", "--seed", "-3"], "seed -3: must be a whole number"),
    (["generate", "--prompt", "x", "--top-features", "-1"], "--top-features: -1 must be from 0"),
    (["generate", "--prompt", "x", "--threads", "0"], "--threads: 0 must be from 1 to 1024"),
    (["generate", "--prompt", "x", "--indent", "-1"], "--indent: -1 must be from 0 to 16"),
    (["generate", "--prompt", "x", "--max-new-tokens", "ten"], "invalid int value: 'ten'"),
    (["inspect", "--text", "x", "--limit", "-1"], "--limit: -1 must be at least 1"),
    (["inspect", "--text", "x", "--top", "-1"], "--top: -1 must be at least 1"),
    (["features", "search", "x", "--limit", "0"], "--limit: 0 must be at least 1"),
    (["features", "show", "-1"], "argument index: -1 must be at least 0"),
    (["features", "show", "x"], "index: 'x' is not a whole number"),
    (["catalog", "build", "--corpus", "c", "--context", "1"], "--context: 1 must be from 2"),
    (["catalog", "build", "--corpus", "c", "--batch-size", "0"], "--batch-size: 0 must be from 1"),
    (["catalog", "build", "--corpus", "c", "--tokens", "-5"], "--tokens: -5 must be at least 1"),
    (["features", "contrast", "--a", "a", "--b", "b", "--classifier-features", "0"],
     "--classifier-features: 0 must be from 1"),
])
def test_every_bad_value_is_exit_2_and_one_line(cli, argv, message):
    run = cli(*argv)
    assert run.code == 2, run.err
    assert len(run.err_lines) == 1 and message in run.err_lines[0], run.err
    assert "Traceback" not in run.err and "usage:" not in run.err


def test_hook_model_is_one_line(cli, tiny):
    model, sae = tiny
    run = cli("generate", "--model", model, "--sae", sae, "--prompt", "x", "--hook", "model")
    assert run.code == 2 and len(run.err_lines) == 1, run.err
    assert "hook 'model': output of model is a BaseModelOutputWithPast" in run.err


def test_a_broken_tokenizer_and_a_library_error_are_one_line(cli, tiny, tmp_path, monkeypatch):
    import shutil

    model, sae = tiny
    broken = tmp_path / "model"
    shutil.copytree(model, broken)
    (broken / "tokenizer.json").write_text('{"version": "1.0", "model": {"type": "nonsense"}}')
    run = cli("generate", "--model", broken, "--sae", sae, "--prompt", "x")
    assert run.code == 2 and len(run.err_lines) == 1, run.err
    assert "could not load the tokenizer" in run.err
    from steerdesk.engine import session_spec

    def fails(self, progress=None):
        progress(0.1, "Reading the tokenizer")
        raise RuntimeError("first line\n  second line\nthird line")
    monkeypatch.setattr(session_spec.SessionSpec, "open", fails)
    run = cli("generate", "--model", model, "--sae", sae, "--prompt", "x")
    assert run.code == 2 and run.err_lines == [
        "steerdesk: reading the tokenizer: RuntimeError: first line"]


def test_a_refused_pickle_is_one_line(cli, tiny, tmp_path):
    import torch

    model, _ = tiny
    torch.save({"W_enc": torch.zeros(32, 4)}, tmp_path / "ae.pt")
    run = cli("generate", "--model", model, "--sae", tmp_path / "ae.pt", "--prompt", "x")
    assert run.code == 2 and len(run.err_lines) == 1 and "--allow-pickle" in run.err


def test_an_unexpected_error_is_one_line_saying_how_to_see_more(cli, monkeypatch):
    from steerdesk.cli import features

    monkeypatch.setattr(features, "_search", lambda args: 1 / 0)
    run = cli("features", "search", "x")
    assert run.code == 1 and len(run.err_lines) == 1
    assert "unexpected error (ZeroDivisionError: division by zero)" in run.err
    assert "STEERDESK_TRACEBACK=1" in run.err


# ---- old spellings --------------------------------------------------------------------------

@pytest.mark.parametrize("old, new", [
    (["inspect", "--text", "t", "--top", "3"], ["inspect", "--text", "t", "--limit", "3"]),
    (["features", "text", "t", "--top", "3"], ["features", "text", "t", "--limit", "3"]),
    (["features", "contrast", "--a", "a", "--b", "b", "--top", "4"],
     ["features", "contrast", "--a", "a", "--b", "b", "--limit", "4"]),
    (["features", "show", "3", "--snippets", "2"], ["features", "show", "3", "--limit", "2"]),
    (["catalog", "build", "--corpus", "c", "--top-k", "7"],
     ["catalog", "build", "--corpus", "c", "--limit", "7"]),
])
def test_an_old_spelling_still_works_with_a_one_line_note(capsys, old, new):
    parser = build_parser()
    got, want = parser.parse_args(old), parser.parse_args(new)
    assert vars(got) == vars(want)
    err = capsys.readouterr().err.splitlines()
    assert err == [f"steerdesk: note: {old[-2]} is deprecated and goes in the next release; use "
                   f"{new[-2]}"]


def test_inspect_top_end_to_end(cli, tiny):
    model, sae = tiny
    old = cli("inspect", "--model", model, "--sae", sae, "--text", "hello", "--top", "2", "--json")
    assert old.code == 0 and len(json.loads(old.out)["features"]) == 2
    assert old.err_lines == ["steerdesk: note: --top is deprecated and goes in the next release; "
                             "use --limit"]


# ---- no silent no-ops -----------------------------------------------------------------------

def test_flags_that_would_do_nothing_say_so_in_one_line_each(cli, tiny):
    model, sae = tiny
    run = cli("generate", "--model", model, "--sae", sae, "--prompt", "hi", "--max-new-tokens",
              "2", "--chat", "--hook", "blocks.0.hook_resid_post", "--mode", "ablate",
              "--steer", "3=2", "--top-k", "5", "--top-p", "0.9", "--json")
    assert run.code == 0, run.err
    assert run.err_lines == [
        "steerdesk: warning: feature 3: ablate sets it to 0, so the strength 2 given is not used",
        "steerdesk: warning: --top-k 5 does nothing with --temperature 0 (greedy); it is sampling "
        "top-k, as in transformers (the K most active features per token are --top-features K)",
        "steerdesk: warning: --top-p 0.9 does nothing with --temperature 0 (greedy)",
        f"steerdesk: warning: {sae}: its files say it reads blocks.1.hook_resid_post; it reads "
        "blocks.0.hook_resid_post (output of model.layers[0]), as asked",
        "steerdesk: warning: model: its tokenizer has no chat template; --chat used the prompt "
        "as it is"]
    quiet = cli("generate", "--model", model, "--sae", sae, "--prompt", "hi", "--max-new-tokens",
                "2", "--steer", "3=ablate", "--temperature", "0.7", "--top-k", "5", "--json")
    assert quiet.code == 0 and quiet.err_lines == []


def test_text_mode_prints_the_readout_as_a_table_when_asked(cli, tiny):
    model, sae = tiny
    base = ["generate", "--model", model, "--sae", sae, "--prompt", "hi", "--steer", "3=4",
            "--max-new-tokens", "3"]
    plain = cli(*base)
    assert plain.code == 0 and not any(ln.strip().startswith("token")
                                       for ln in plain.out.splitlines())
    record = json.loads(cli(*base, "--watch", "3,5", "--top-features", "2", "--json").out)
    run = cli(*base, "--watch", "3,5", "--top-features", "2")
    assert run.code == 0
    lines = run.out.splitlines()
    heads = [n for n, line in enumerate(lines) if line.strip().startswith("token")]
    assert len(heads) == 2 and lines[heads[0]].split() == ["token", "#3", "#5", "top",
                                                           "features"]
    for head, column in zip(heads, record["columns"]):
        for line, tok in zip(lines[head + 1: head + 4], column["tokens"]):
            cells = line.split()
            assert [float(c) for c in cells[-4:-2]] == pytest.approx(
                [w["activation"] for w in tok["watched"]], abs=5e-4)
            assert [int(c.split(":")[0]) for c in cells[-2:]] == [
                f["index"] for f in tok["top_features"]]


# ---- help -----------------------------------------------------------------------------------

def _all_parsers(parser, prog="steerdesk"):
    yield parser
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for sub in dict.fromkeys(action.choices.values()):
                yield from _all_parsers(sub)


def _app_options(parser):
    """The desktop app's own options, listed in the top-level help (the app's code)."""
    group = next(g for g in parser._action_groups if g.title.startswith("desktop app"))
    return set(map(id, group._group_actions))


def test_every_option_is_described_with_its_default():
    top = build_parser()
    app, missing = _app_options(top), []
    for parser in _all_parsers(top):
        formatter = parser._get_formatter()
        for action in parser._actions:
            if not action.option_strings or action.help == argparse.SUPPRESS or \
                    id(action) in app or \
                    isinstance(action, (argparse._HelpAction, argparse._VersionAction)):
                continue
            assert action.help, f"{parser.prog} {action.option_strings[0]} has no help"
            if action.nargs != 0:   # an option with a value says what it is when not given
                shown = formatter._get_help_string(action)
                missing.extend([] if "default" in shown or "required" in shown
                               else [f"{parser.prog} {action.option_strings[0]}"])
    assert missing == []


def test_help_teaches_strength_units_and_score():
    parser = build_parser()
    subs = {p.prog: p for p in _all_parsers(parser)}
    generate = subs["steerdesk generate"].format_help()
    assert "strength and units:" in generate and "598=2,1416=ablate,77=clamp:5" in generate
    assert "(default: 48)" in generate and "(default: 0.0)" in generate
    contrast = " ".join(subs["steerdesk features contrast"].format_help().split())
    assert "score: the difference of the feature's mean activation on A and on B" in contrast
    assert "it does not change the classifier" in contrast
    search = " ".join(subs["steerdesk features search"].format_help().split())
    assert "score: how well the label matches" in search


@pytest.mark.parametrize("argv, message", [
    (["bench", "--threads", "0"], "--threads: 0 must be from 1 to 1024"),
    (["bench", "--new-tokens", "-1"], "--new-tokens: -1 must be from 1"),
    (["bench", "--bandwidth", "nan"], "--bandwidth: nan is not a finite number"),
    (["bench", "--bandwidth", "-3"], "--bandwidth: -3 must be above 0"),
])
def test_bench_values_are_checked_too(cli, argv, message):
    run = cli(*argv)
    assert run.code == 2 and len(run.err_lines) == 1 and message in run.err_lines[0]
