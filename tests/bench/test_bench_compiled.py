"""`steerdesk bench --compile` end to end on the tiny model: the compiled rows (a+)-(e+) and
the compile time beside the eager ones, each step compiled once for all the runs. Traced with
Dynamo's "eager" backend: the JSON's shape is tested here, not inductor's speed."""

import math

import pytest

from steerdesk.bench.harness import BenchOptions, ModelPlan, run_bench
from steerdesk.engine.compiled import registry


@pytest.fixture(scope="module")
def result():
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(registry.settings, "backend", "eager")
        return run_bench(BenchOptions(plans=(ModelPlan("tiny", 12, 2, 1),), threads=1,
                                      compile=True))


def test_compiled_rows_beside_the_eager_ones(result):
    names = [row["name"] for row in result["rows"]]
    assert result["compile"] is True
    for prefix in ("a ", "b ", "c ", "d ", "a+ ", "b+ ", "c+ ", "d+ ", "e+ compiled time to first"):
        assert any(n.startswith(prefix) for n in names), prefix
    for row in result["rows"]:
        if row.get("compiled") and not row["name"].startswith("g"):
            r = row["ratio_to_plain"]
            assert isinstance(r, float) and math.isfinite(r) and r > 0
    b = next(r for r in result["rows"] if r["name"].startswith("b+ "))
    assert "target" not in b   # the issue sets it for the pocket pack only
    assert b["rows"] == 2 and b["speedup_over_eager"] > 0


def test_the_side_by_side_target_is_set_for_the_pocket_pack(result):
    from steerdesk.bench.compiled_rows import compiled_rows
    from steerdesk.bench.harness import RunResult

    runs = {m: [RunResult(1.0, 0.1, 4, 1 if m in ("plain", "a", "a+") else 2, None)]
            for m in ("plain", "a", "b", "c", "d", "a+", "b+", "c+", "d+")}
    runs["b+"] = [RunResult(0.9, 0.1, 4, 2, None)]
    rows = compiled_rows("pocket", runs, {}, {}, lambda xs: sorted(xs)[len(xs) // 2],
                         lambda xs: [min(xs), max(xs)], lambda mode: {"rows": runs[mode][0].rows})
    b = next(r for r in rows if r["name"].startswith("b+ "))
    assert b["target"] == 1.0 and b["ratio_to_plain"] == 0.9 and b["meets_target"] is True
    assert b["speedup_over_eager"] == round(1.0 / 0.9, 3)


def test_each_compiled_mode_compiled_once_for_all_runs(result):
    g = [r for r in result["rows"] if r["name"].startswith("g compile time")]
    assert [r["name"].split(",")[1].split()[0] for r in g] == ["a+", "b+", "c+", "d+"]
    assert all(r["compiles_after_all_runs"] == 1 for r in g), g
    assert all(r["compile_seconds"] > 0 for r in g)
    assert "top-8" in g[3]["name"]
    runs = result["models"][0]["runs"]
    assert set(runs) == {"plain", "a", "b", "c", "d", "h", "h2", "h-", "a+", "b+", "c+", "d+"}


def test_markdown_has_the_compiled_rows(result):
    from steerdesk.bench.report import to_markdown

    text = to_markdown(result)
    assert text.count("\n| tiny |") == len(result["rows"])
    assert "x as fast as eager" in text and "graphs compiled after all runs: 1" in text
