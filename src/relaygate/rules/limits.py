"""The restriction configuration: how many rules a user may keep and how many actions a
rule may hold, by membership tier (``free``, ``vip``, ``premium``), set by the operator.

Pure. The tier comes from the caller (the billing side knows a user's membership); a tier
the operator named no limit for gets the defaults.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType

__all__ = ["TIERS", "LimitConfig", "RuleLimits"]

TIERS = ("free", "vip", "premium")
_NONE: Mapping[str, int] = MappingProxyType({})


@dataclass(frozen=True, slots=True)
class RuleLimits:
    """The limits in force for one user."""

    tier: str
    max_rules: int
    max_actions: int  # per rule


@dataclass(frozen=True, slots=True)
class LimitConfig:
    max_rules: int = 50
    max_actions: int = 20
    max_rules_by_tier: Mapping[str, int] = field(default_factory=lambda: _NONE)
    max_actions_by_tier: Mapping[str, int] = field(default_factory=lambda: _NONE)
    ceiling_actions: int = 20  # what the rule document itself allows (rules.schema)

    def for_tier(self, tier: str) -> RuleLimits:
        actions = self.max_actions_by_tier.get(tier, self.max_actions)
        return RuleLimits(
            tier=tier,
            max_rules=self.max_rules_by_tier.get(tier, self.max_rules),
            max_actions=min(actions, self.ceiling_actions),
        )

    def every_tier(self) -> list[RuleLimits]:
        names = [*TIERS, *sorted({*self.max_rules_by_tier, *self.max_actions_by_tier} - {*TIERS})]
        return [self.for_tier(name) for name in names]
