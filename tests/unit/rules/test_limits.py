"""The restriction configuration: defaults, per-tier overrides, the document's ceiling."""

from __future__ import annotations

from relaygate.rules.limits import LimitConfig, RuleLimits


def test_a_tier_without_its_own_limit_gets_the_defaults() -> None:
    config = LimitConfig(50, 20, {"vip": 200}, {"free": 5, "vip": 40}, ceiling_actions=20)
    assert config.for_tier("free") == RuleLimits("free", 50, 5)
    assert config.for_tier("vip") == RuleLimits("vip", 200, 20)  # 40 is past the ceiling
    assert config.for_tier("premium") == RuleLimits("premium", 50, 20)
    assert [t.tier for t in config.every_tier()] == ["free", "vip", "premium"]
