"""`--compile` on `steerdesk generate` and `steerdesk bench`: the flags reach the engine, the
output says which path decoded, and the compiled rows are in the benchmark's JSON. Compiling
here traces with Dynamo's "eager" backend (the inductor build is tested in
tests/engine/test_compiled_decode.py)."""

import json
from types import SimpleNamespace

import pytest

from steerdesk.engine.compiled import registry, runner


@pytest.fixture(scope="module")
def pair(tmp_path_factory):
    from steerdesk.testing.tiny import make_model, make_sae

    root = tmp_path_factory.mktemp("compile-cli")
    return (make_model(root / "model", "llama", d=32, layers=2),
            make_sae(root / "sae", d_in=32, d_sae=48, arch="relu", hook="blocks.1.hook_resid_post"))


@pytest.fixture
def eager_backend(monkeypatch):
    monkeypatch.setattr(registry.settings, "backend", "eager")


def _main(capsys, *args):
    from steerdesk.cli.main import main

    code = main([str(a) for a in args])
    out = capsys.readouterr()
    return SimpleNamespace(returncode=code, stdout=out.out, stderr=out.err)


def test_generate_compile_gives_the_eager_text(pair, capsys, eager_backend):
    args = ["generate", "--model", pair[0], "--sae", pair[1], "--prompt", "the quick",
            "--steer", "3=6", "--mode", "add", "--max-new-tokens", "6", "--watch", "3"]
    eager = _main(capsys, *args, "--json")
    comp = _main(capsys, *args, "--compile")
    assert comp.returncode == 0, comp.stderr
    assert "Compiling the decode step (2 rows" in comp.stderr
    assert "Compiled the decode step in" in comp.stderr
    comp = _main(capsys, *args, "--compile", "--json")
    e, c = json.loads(eager.stdout), json.loads(comp.stdout)
    assert e["run"]["decode"] == "eager" and c["run"]["decode"] == "compiled"
    assert c["columns"][1]["text"] == e["columns"][1]["text"]
    assert [t["id"] for t in c["columns"][0]["tokens"]] == \
        [t["id"] for t in e["columns"][0]["tokens"]]
    assert "Compiling" not in comp.stderr   # --json: stderr stays quiet


def test_generate_compile_says_why_it_stayed_eager(pair, capsys, monkeypatch):
    monkeypatch.setattr(runner, "unavailable_reason", lambda device: "no C++ compiler found")
    run = _main(capsys, "generate", "--model", pair[0], "--sae", pair[1], "--prompt",
                "the", "--steer", "3=6", "--max-new-tokens", "3", "--compile", "--json")
    assert run.returncode == 0
    assert json.loads(run.stdout)["run"]["decode"] == "eager: no C++ compiler found"
    assert run.stderr.strip().splitlines()[-1] == (
        "steerdesk: warning: decoded without compiling (no C++ compiler found)")


def test_bench_quick_compile_json_flags():
    import argparse

    from steerdesk.cli import bench

    parser = argparse.ArgumentParser()
    bench.register(parser.add_subparsers(dest="command"))
    opts = bench.options_from_args(parser.parse_args(["bench", "--quick", "--compile", "--json"]))
    assert opts.compile and opts.quick and [p.name for p in opts.plans] == ["pocket"]
    assert not bench.options_from_args(parser.parse_args(["bench", "--quick"])).compile
