"""The pure limit policy: tiers, the windows a request hits, and the folded decision."""

from __future__ import annotations

import pytest

from relaygate.kv.protocols import WindowCount
from relaygate.limits.policy import (
    DEFAULT_TIERS,
    KeyLimits,
    Tier,
    decide,
    plan_request,
    tier_rpm,
    tiers_from_units,
)


@pytest.mark.parametrize(
    ("topup", "rpm"),
    [
        (0, 60),
        (19_999_999, 60),
        (20_000_000, 1_000),
        (299_999_999, 1_000),
        (300_000_000, 10_000),
        (10**12, 10_000),
    ],
)
def test_default_tiers(topup: int, rpm: int) -> None:
    assert tier_rpm(topup, DEFAULT_TIERS) == rpm


def test_operator_tiers_need_a_zero_tier() -> None:
    assert tier_rpm(5, [Tier(0, 10), Tier(5, 20)]) == 20
    with pytest.raises(ValueError):
        tier_rpm(0, [Tier(1, 10)])


def test_tiers_from_operator_units() -> None:
    tiers = tiers_from_units([("300", 10_000), (0, 60), ("20.5", 1_000)])
    assert [t.min_topup for t in tiers] == [0, 20_500_000, 300_000_000]
    assert tier_rpm(20_500_000, tiers) == 1_000
    with pytest.raises(ValueError):
        tiers_from_units([("1", 60)])
    with pytest.raises(ValueError):
        tiers_from_units([(0, 0)])


def test_plan_user_only() -> None:
    (check,) = plan_request(1, 2, 60, KeyLimits())
    assert (check.kind, check.scope, check.hit.key, check.hit.limit) == (
        "requests",
        "user",
        "rpm:u:1",
        60,
    )
    assert check.hit.window_s == 60


def test_plan_key_limits_and_zero_means_none() -> None:
    checks = plan_request(1, 2, 60, KeyLimits(rpm=10, tpm=1000), estimated_tokens=0)
    assert [(c.kind, c.scope, c.hit.cost) for c in checks] == [
        ("requests", "user", 1),
        ("requests", "key", 1),
        ("tokens", "key", 1),
    ]
    assert len(plan_request(1, 2, 60, KeyLimits(rpm=0, tpm=0))) == 1
    with pytest.raises(ValueError):
        plan_request(1, 2, 0, KeyLimits())


def test_decide_reports_the_binding_window_when_allowed() -> None:
    checks = plan_request(1, 2, 1000, KeyLimits(rpm=10, tpm=500), estimated_tokens=120)
    results = [
        WindowCount(True, 300, 1000, 0.0),
        WindowCount(True, 4, 10, 0.0),
        WindowCount(True, 200, 500, 0.0),
    ]
    decision = decide(checks, results)
    assert decision.allowed and decision.retry_after_s is None
    assert (decision.limit, decision.remaining) == (10, 6)
    assert decision.tokens is not None and decision.tokens.remaining == 300
    assert decision.tokens_charged == 120


def test_decide_reports_the_refusing_window() -> None:
    checks = plan_request(1, 2, 1000, KeyLimits(rpm=10))
    results = [WindowCount(False, 300, 1000, 0.0), WindowCount(False, 10, 10, 4.2)]
    decision = decide(checks, results)
    assert not decision.allowed
    assert (decision.limit, decision.remaining, decision.retry_after_s) == (10, 0, 5)
    assert decision.refused_by == "key requests"
    assert decision.tokens_charged == 0


def test_decide_retry_after_is_at_least_one_second() -> None:
    checks = plan_request(1, 2, 60, KeyLimits())
    decision = decide(checks, [WindowCount(False, 60, 60, 0.01)])
    assert decision.retry_after_s == 1 and decision.refused_by == "user requests"
