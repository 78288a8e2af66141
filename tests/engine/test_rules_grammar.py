"""The rule grammar: every form the brief names parses to the rule written out by hand here,
to_text() round-trips, bad text gives one InputError naming the rule, and random strings
never raise anything else."""

import random

import pytest

from steerdesk.engine.errors import InputError
from steerdesk.engine.rules import (
    ClassifierCondition,
    FeatureCondition,
    Rule,
    TextCondition,
    parse_rule,
    parse_rules,
)
from steerdesk.engine.steering import FeatureSteer, SteeringSpec

F = FeatureSteer

CASES = [
    ("when 12>3.5 then 40=8", Rule(FeatureCondition(12, ">", 3.5), (F(40, 8.0),))),
    ("when 12>3.5 then 40=8,7=-2 for 5",
     Rule(FeatureCondition(12, ">", 3.5), (F(40, 8.0), F(7, -2.0)), for_tokens=5)),
    ("when 12>3.5 then stop", Rule(FeatureCondition(12, ">", 3.5), "stop")),
    ("when 12<0.2x then 40=clamp:3",
     Rule(FeatureCondition(12, "<", 0.2, "max"), (F(40, 3.0, "clamp"),))),
    ("when classifier spam.json>0.8 then 9=ablate",
     Rule(ClassifierCondition("spam.json", 0.8), (F(9, 0.0, "ablate"),))),
    ('when text "bridge" then stop', Rule(TextCondition("bridge"), "stop")),
    ("when text /br[iy]dge/ then 40=4", Rule(TextCondition("br[iy]dge", True), (F(40, 4.0),))),
    ("  WHEN #3 < 1e-3 THEN 1=2x, 2=clamp:0.5x FOR 2 tokens ",
     Rule(FeatureCondition(3, "<", 0.001), (F(1, 2.0), F(2, 0.5, "clamp")), "max", 2)),
    ('when classifier "my dir/c.json" < 0.25 then 4=ablate',
     Rule(ClassifierCondition("my dir/c.json", 0.25, "<"), (F(4, 0.0, "ablate"),))),
]


@pytest.mark.parametrize("text,rule", CASES)
def test_each_form_parses_to_the_rule_and_round_trips(text, rule):
    assert parse_rule(text) == rule
    assert parse_rule(rule.to_text()) == rule


def test_canonical_text_is_the_short_form():
    assert parse_rule("when 12 > 3.50 then 40 = 8 , 7=-2 for 5 tokens").to_text() == \
        "when 12>3.5 then 40=8,7=-2 for 5"
    assert parse_rule("when 12<0.2x then 40=2x").to_text() == "when 12<0.2x then 40=2x"


def test_several_rules_with_semicolons_even_inside_a_pattern():
    rules = parse_rules('when text /a;b/ then stop; when text "x;y" then 3=1 ;')
    assert rules == [Rule(TextCondition("a;b", True), "stop"),
                     Rule(TextCondition("x;y"), (F(3, 1.0),))]


def test_slashes_and_quotes_inside_patterns_round_trip():
    for cond in (TextCondition("a/b", True), TextCondition(r"a\/b", True),
                 TextCondition('say "hi" \\ now'), TextCondition(r"\d+\s", True)):
        rule = Rule(cond, "stop")
        assert parse_rule(rule.to_text()) == rule
    # a slash is stored escaped: both spellings are one regex
    assert TextCondition("a/b", True) == TextCondition(r"a\/b", True)
    assert TextCondition("a/b", True).compiled().search("xa/by")


def test_whole_word_any_case_and_regex_as_given():
    word = TextCondition("bridge").compiled()
    assert word.search("the Bridge, then")
    assert not word.search("bridges") and not word.search("abridge")
    rx = TextCondition("br[iy]dge", True).compiled()
    assert rx.search("brydges") and not rx.search("Bridge")


def test_describe_in_plain_words():
    label = {12: "German text", 40: "bridges"}.get
    assert parse_rule("when 12>3.5 then 40=8 for 5").describe(label) == \
        "when #12 German text is above 3.5, add #40 bridges +8 for 5 tokens"
    assert parse_rule("when 12<0.2x then 40=clamp:3").describe() == \
        "when #12 is below 0.2x max, clamp #40 to 3 for as long as it holds"
    assert parse_rule('when text "bridge" then stop').describe() == \
        'when the text so far has the word "bridge", stop'
    spec = SteeringSpec([F(1, 2.0)], rules=[parse_rule("when 3>1 then stop")])
    assert spec.describe() == "add #1 +2.00 raw; when #3 is above 1, stop"


BAD = [
    ("", "starts with 'when'"),
    ("when 12>3.5", "'then'"),
    ("when 12 then 40=8", "needs > or <"),
    ("when 12>3.5 then", "needs an action"),
    ("when 12>3.5 then 40=banana", "not features to steer"),
    ("when 12>3.5 then stop for 3", "'for N' does not apply"),
    ("when text bridge then stop", '"word" or a /regular expression/'),
    ("when text /(/ then stop", "not a regular expression"),
    ('when text "open then stop', "closing \" is missing"),
    ("when 1>2 then 3=2x,4=1", "same unit"),
    ("when 1>2 then 3=4 for 0", "from 1 to 65536"),
    ("when 1>2 then 3=4 for many", "whole number of tokens"),
    ("when 1>1e999 then 3=3", "not a finite number"),
    ("when classifier >0.5 then stop", "classifier file's path"),
    ("when 1>2 then stop; when", "the condition is a feature"),
]


@pytest.mark.parametrize("text,problem", BAD)
def test_bad_rules_give_one_clear_error(text, problem):
    with pytest.raises(InputError) as exc:
        parse_rules(text)
    msg = exc.value.message
    assert msg.startswith("rule '") and problem in msg and "for example: when" in msg
    assert "\n" not in msg and exc.value.field == "rule"


def test_one_rule_expected():
    with pytest.raises(InputError, match="2 rules, where one is expected"):
        parse_rule("when 1>2 then stop; when 2>1 then stop")


def _random_rule(rng: random.Random) -> Rule:
    kind = rng.randrange(3)
    value = rng.choice([0.0, -1.5, 3.25, 1e-7, 123456.0, rng.uniform(-50, 50)])
    if kind == 0:
        cond = FeatureCondition(rng.randrange(5000), rng.choice("<>"), value, rng.choice(["raw", "max"]))
    elif kind == 1:
        cond = ClassifierCondition(rng.choice(["a.json", "dir/b c.json", 'q"uote.json']), value,
                                   rng.choice("<>"))
    else:
        word = "".join(rng.choice('ab/"\\;x ') for _ in range(rng.randrange(1, 8)))
        regex = rng.random() < 0.5
        cond = TextCondition(word.replace("\\", "") if regex else word, regex)
    if rng.random() < 0.3:
        return Rule(cond, "stop")
    modes = [F(rng.randrange(100), rng.uniform(-9, 9), "add"),
             F(rng.randrange(100), rng.uniform(0, 9), "clamp"), F(rng.randrange(100), 0.0, "ablate")]
    action = tuple(rng.sample(modes, rng.randrange(1, 4)))
    return Rule(cond, action, rng.choice(["raw", "max"]), rng.choice([None, 1, 7]))


def test_random_rules_round_trip():
    rng = random.Random(13)
    for _ in range(400):
        try:
            rule = _random_rule(rng)
        except InputError:   # e.g. a random regex that does not compile
            continue
        assert parse_rule(rule.to_text()) == rule, rule.to_text()
        assert parse_rules(rule.to_text() + "; " + rule.to_text()) == [rule, rule]


def test_fuzz_only_input_errors():
    rng = random.Random(7)
    pieces = ["when", "then", "for", "text", "classifier", "stop", "12", ">", "<", "3.5", "x",
              "=", ",", ";", "/", '"', "\\", "clamp:", "ablate", " ", "(", "[", "1e999", "-", "#"]
    for n in range(3000):
        if n % 2:
            s = "".join(rng.choice(pieces) for _ in range(rng.randrange(1, 14)))
        else:
            s = "".join(chr(rng.randrange(32, 127)) for _ in range(rng.randrange(0, 30)))
        try:
            parse_rules(s)
        except InputError:
            pass
