"""`generate --rule`: its column in the JSON (rules as text, per-token flags that agree with
the rule's timing), an always-true rule giving the tokens of `--steer ... --positions
generated`, a stop rule's finish reason, bad rules as one line with exit 2, presets with rules."""

import json

import pytest

PROMPT = "the quick brown fox"
N = 8


def _gen(cli, tiny, *args):
    model, sae = tiny
    return cli("generate", "--model", model, "--sae", sae, "--prompt", PROMPT,
               "--max-new-tokens", N, "--seed", 0, *args)


def _json(res):
    assert res.code == 0, res.err
    return json.loads(res.out)


def test_always_true_rule_column_matches_positions_generated(cli, tiny):
    ruled = _json(_gen(cli, tiny, "--json", "--rule", "when 3>-1 then 5=4,7=clamp:1"))
    fixed = _json(_gen(cli, tiny, "--json", "--steer", "5=4,7=clamp:1",
                       "--positions", "generated"))
    col = ruled["columns"][1]
    assert col["steering"]["rules"] == ["when 3>-1 then 5=4,7=clamp:1"]
    assert col["steering"]["features"] == []
    assert "when #3" in col["name"] and "add #5" in col["name"]
    assert [t["id"] for t in col["tokens"]] == [t["id"] for t in fixed["columns"][1]["tokens"]]
    assert [t["logprob"] for t in col["tokens"]] == \
        [t["logprob"] for t in fixed["columns"][1]["tokens"]]
    assert all(t["rules_held"] == [0] and t["rules_acting"] == [0] for t in col["tokens"])
    assert all(t["rules_held"] == [] for t in ruled["columns"][0]["tokens"])
    assert [w["index"] for w in ruled["readout"]["watch"]] == [5, 7]   # the rule's features
    assert ruled["run"]["decode"] == "eager"


def test_flags_follow_the_rule_timing(cli, tiny):
    """With 'for 2', a token is steered exactly when the rule held at one of the two tokens
    before it (the first two tokens also depend on the prompt's last, not in the record)."""
    model, sae = tiny
    base = _json(_gen(cli, tiny, "--json", "--watch", "44"))
    values = sorted(t["watched"][0]["activation"] for t in base["columns"][0]["tokens"])
    thr = (values[len(values) // 2 - 1] + values[len(values) // 2]) / 2
    out = _json(_gen(cli, tiny, "--json", "--rule", f"when 44>{thr!r} then 5=4 for 2"))
    toks = out["columns"][1]["tokens"]
    held = [bool(t["rules_held"]) for t in toks]
    acting = [bool(t["rules_acting"]) for t in toks]
    assert any(held) and not all(held)
    for i in range(2, len(toks)):
        assert acting[i] == (held[i - 1] or held[i - 2]), i


def test_stop_rule_finish_reason(cli, tiny):
    out = _json(_gen(cli, tiny, "--json", "--rule", "when 3>-1 then stop",
                     "--rule", "when 3<-1 then stop"))
    assert out["columns"][1]["finish_reason"] == "rule"
    assert out["columns"][1]["tokens"] == []
    assert out["columns"][2]["finish_reason"] == "length"
    assert len(out["columns"][2]["tokens"]) == N


def test_text_output_with_a_rule(cli, tiny):
    res = _gen(cli, tiny, "--rule", "when 3>-1 then 5=4")
    assert res.code == 0 and "when #3" in res.out


@pytest.mark.parametrize("rule,problem", [
    ("when 3>1 then", "needs an action"),
    ("when 3 then 5=4", "needs > or <"),
    ("when classifier missing.json>0.5 then stop", "missing.json"),
    ("when 999>1 then 5=4", "out of range"),
])
def test_bad_rule_is_one_line_and_exit_2(cli, tiny, rule, problem):
    res = _gen(cli, tiny, "--rule", rule)
    assert res.code == 2
    assert len(res.err_lines) == 1 and problem in res.err_lines[0], res.err


def test_preset_with_rules_and_an_old_preset(cli, tiny, tmp_path):
    from steerdesk.engine.presets import load_preset

    new = {"name": "calm", "unit": "raw", "features": [{"index": 5, "strength": 2.0}],
           "rules": ["when 3>-1 then 7=clamp:1 for 3"]}
    old = {"name": "old", "unit": "raw", "features": [{"index": 5, "strength": 2.0}]}
    (tmp_path / "new.json").write_text(json.dumps(new))
    (tmp_path / "old.json").write_text(json.dumps(old))
    preset = load_preset(tmp_path / "new.json")
    assert [r.to_text() for r in preset.rules] == new["rules"]
    assert preset.to_spec().rules == preset.rules
    assert preset.to_json()["rules"] == new["rules"]
    assert load_preset(tmp_path / "old.json").rules == []
    assert "rules" not in load_preset(tmp_path / "old.json").to_json()
    out = _json(_gen(cli, tiny, "--json", "--preset", tmp_path / "new.json"))
    assert out["columns"][1]["steering"]["rules"] == new["rules"]
    assert all(t["rules_acting"] == [0] for t in out["columns"][1]["tokens"])
    out = _json(_gen(cli, tiny, "--json", "--preset", tmp_path / "old.json"))
    assert out["columns"][1]["steering"]["rules"] == []


def test_bad_rule_in_a_preset_names_the_file(cli, tiny, tmp_path):
    bad = {"name": "bad", "unit": "raw", "features": [], "rules": ["when 3> then stop"]}
    (tmp_path / "bad.json").write_text(json.dumps(bad))
    res = _gen(cli, tiny, "--preset", tmp_path / "bad.json")
    assert res.code == 2 and len(res.err_lines) == 1
    assert "bad.json: rules[0]: rule 'when 3> then stop'" in res.err_lines[0]


def test_a_run_with_rules_replays(cli, tiny, tmp_path):
    out = _gen(cli, tiny, "--json", "--rule", "when 44>0.26 then 5=4 for 2")
    record = tmp_path / "run.json"
    record.write_text(_json(out) and out.out)
    res = cli("generate", "--replay", record, "--json")
    assert res.code == 0, res.err
    assert json.loads(res.out)["replay"]["reproduced"] is True
