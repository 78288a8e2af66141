"""The bench's rule modes steer as the run without rules does, each by the condition it names:
h by a feature condition, h2 by a classifier's score (the full read at every step)."""

import pytest

from steerdesk.bench.harness import STEER_FEATURE, steerdesk_request
from steerdesk.bench.models import open_bench_session
from steerdesk.engine.generation import generate
from steerdesk.engine.rules import ClassifierCondition, FeatureCondition


@pytest.fixture(scope="module")
def bench_session():
    return open_bench_session("tiny", device="cpu", dtype="float32")[0]


@pytest.mark.parametrize("mode, kind", [("h", FeatureCondition), ("h2", ClassifierCondition)])
def test_rule_mode_always_holds_and_equals_the_run_without_rules(bench_session, mode, kind):
    request = steerdesk_request(mode, "the weather today is", 6)
    (rule,) = request.variants[0].rules
    assert isinstance(rule.condition, kind)
    ruled = generate(bench_session, request).rows[1].tokens
    plain = generate(bench_session, steerdesk_request("h-", "the weather today is", 6)).rows[1]
    assert all(t.rules_held == [0] and t.rules_acting == [0] for t in ruled[:-1])
    assert [(t.token_id, t.logprob) for t in ruled] == \
        [(t.token_id, t.logprob) for t in plain.tokens]
    assert STEER_FEATURE in {f.index for f in rule.action}
