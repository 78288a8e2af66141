"""The benchmark harness end to end on a tiny random model: the shape of its JSON, not timings."""

import json
import math

import pytest

from steerdesk.cli import bench


@pytest.fixture(scope="module")
def result(capsys_module=None):
    import contextlib
    import io

    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        rc = bench.main(["--models", "tiny", "--prompt-tokens", "12", "--new-tokens", "3",
                         "--repeats", "1", "--threads", "1", "--json", "--quiet"])
    assert rc == 0
    return json.loads(out.getvalue())


def test_json_has_machine_and_rows(result):
    assert isinstance(result["machine"], dict) and result["machine"]["cores"]
    assert result["command"].startswith("steerdesk bench")
    assert [m["model"] for m in result["models"]] == ["tiny"]
    assert result["models"][0]["new_tokens"] == 3


def test_every_figure_is_there_with_a_positive_ratio(result):
    letters = [row["name"][0] for row in result["rows"]]
    for letter in "abcde":
        assert letter in letters
    assert "f" in letters or "peak_extra_mib" in result["models"][0]["runs"]["plain"][0]
    for row in result["rows"]:
        assert row["model"] == "tiny"
        r = row["ratio_to_plain"]
        assert isinstance(r, (int, float)) and math.isfinite(r) and r > 0, row


def test_targets_where_the_issue_sets_them(result):
    by_letter = {}
    for row in result["rows"]:
        by_letter.setdefault(row["name"][0], []).append(row)
    for letter, target in (("a", 0.95), ("b", 1.6), ("d", 0.85), ("e", 1.1)):
        for row in by_letter[letter]:
            assert row["target"] == target
            assert isinstance(row["meets_target"], bool)
    for row in by_letter["c"]:
        assert "target" not in row
    d = by_letter["d"][0]
    assert d["ratio_to_b"] > 0 and d["meets_target"] == (d["ratio_to_b"] >= 0.85)


def test_markdown_table_lists_every_row(result):
    from steerdesk.bench.report import to_markdown

    text = to_markdown(result)
    assert text.count("\n| tiny |") == len(result["rows"])
    assert "ratio to plain" in text


def test_unknown_model_is_an_input_error(capsys):
    assert bench.main(["--models", "gpt5", "--json"]) == 2
    assert "unknown model" in capsys.readouterr().err


def test_rule_row_is_the_ratio_to_the_same_steering_without_rules(result):
    from steerdesk.bench.report import to_markdown

    rows = {row["name"].split()[0]: row for row in result["rows"] if row["name"][0] == "h"}
    assert set(rows) == {"h", "h2"}
    runs = result["models"][0]["runs"]
    for mode, h in rows.items():
        expected = runs[mode][0]["seconds"] / runs["h-"][0]["seconds"]   # one repetition
        assert h["ratio_to_no_rules"] == pytest.approx(expected, rel=0.05)   # rounded seconds
        assert h["target"] == 1.05 and h["meets_target"] == (h["ratio_to_no_rules"] <= 1.05)
    assert "the same steering without rules" in to_markdown(result)
