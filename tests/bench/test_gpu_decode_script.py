"""benchmarks/gpu_decode.py in its smoke mode (--tiny --device cpu): the Gemma-2 shape (its
sliding-window layers are the harder case for the static cache; the Llama shape runs the same
code), every method, the JSON and the Markdown it writes."""

import importlib.util
import json
from pathlib import Path

from steerdesk.engine.compiled import registry

SCRIPT = Path(__file__).resolve().parents[2] / "benchmarks" / "gpu_decode.py"


def test_tiny_cpu_run_writes_json_and_markdown(tmp_path, monkeypatch):
    spec = importlib.util.spec_from_file_location("gpu_decode", SCRIPT)
    script = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(script)
    for name in ("backend", "rows"):   # the script sets both; put them back afterwards
        monkeypatch.setattr(registry.settings, name, getattr(registry.settings, name))
    rc = script.main(["--tiny", "--device", "cpu", "--backend", "eager", "--rows", "1,2",
                      "--models", "gemma-2-2b",
                      "--prompt-tokens", "12", "--new-tokens", "4", "--repeats", "1",
                      "--out", str(tmp_path), "--quiet"])
    assert rc == 0
    result = json.loads((tmp_path / "gpu_decode.json").read_text())
    assert [m["model"] for m in result["models"]] == ["gemma-2-2b"]
    for m in result["models"]:
        assert m["compile"]["compiled"], m["compile"]
        assert "5 rows" in m["compile"]["shape"]   # one graph for every row count
        got = {(r["method"], r["rows"]) for r in m["runs"]}
        assert got == {(meth, rows) for meth in ("plain", "eager", "compiled") for rows in (1, 2)}
        for r in m["runs"]:
            assert r["decode_tok_s_per_stream"] > 0 and r["first_token_seconds"] > 0
            assert "share_of_bound" not in r   # no bandwidth known for a CPU
    gemma = result["models"][0]["compile"]["shape"]
    assert "64 positions" in gemma   # capped at the tiny Gemma's sliding window
    md = (tmp_path / "gpu_decode.md").read_text()
    assert md.count("\n| gemma-2-2b | ") >= 6 and "| compiled | 2 |" in md
    assert any(t["target"].startswith("compiled: 2 rows") for t in result["targets"])
