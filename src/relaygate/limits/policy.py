"""Which rate windows a request must pass, and what their counts mean: pure, no I/O.

A request passes the user's tier RPM and, when the key sets them, the key's own RPM and
TPM. All windows are hit together (all-or-nothing), so a request refused by its key does
not also spend the user's budget. The decision reports the *binding* requests window (the
one with the least room) the way the OpenAI and Anthropic headers describe one limit.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Literal, Protocol

from relaygate.core.money import parse_money
from relaygate.kv.protocols import RateHit, WindowCount

__all__ = [
    "DEFAULT_TIERS",
    "WINDOW_S",
    "Decision",
    "KeyLimits",
    "LimitCheck",
    "Quota",
    "Tier",
    "TierLike",
    "concurrency_key",
    "decide",
    "plan_request",
    "tier_rpm",
    "tiers_from_units",
    "tokens_key",
]

WINDOW_S = 60

LimitKind = Literal["requests", "tokens"]
Scope = Literal["user", "key"]


class TierLike(Protocol):
    """A tier as its owner keeps it (``Tier`` here, ``billing.tier_rules.RpmTier``)."""

    @property
    def min_topup(self) -> int: ...

    @property
    def rpm(self) -> int: ...


@dataclass(frozen=True, slots=True)
class Tier:
    """Users whose cumulative top-up reaches ``min_topup`` (micro-units) get ``rpm``."""

    min_topup: int
    rpm: int


# Never topped up (or below 20.00): 60 RPM; from 20.00: 1,000; from 300.00: 10,000.
DEFAULT_TIERS: tuple[Tier, ...] = (
    Tier(0, 60),
    Tier(20_000_000, 1_000),
    Tier(300_000_000, 10_000),
)


def tiers_from_units(table: Sequence[tuple[Decimal | int | str, int]]) -> tuple[Tier, ...]:
    """Operator tiers given in currency units (``("20", 1000)``), checked and sorted.

    Money never passes through a float: thresholds become exact micro-units.
    """
    tiers = sorted(
        (Tier(parse_money(units, "tier"), rpm) for units, rpm in table),
        key=lambda tier: tier.min_topup,
    )
    if not tiers or tiers[0].min_topup != 0:
        raise ValueError("rate-limit tiers must start at a top-up of 0")
    if any(tier.rpm <= 0 for tier in tiers):
        raise ValueError("every rate-limit tier needs a positive rpm")
    return tuple(tiers)


def tier_rpm(cumulative_topup: int, tiers: Sequence[TierLike] = DEFAULT_TIERS) -> int:
    """The RPM of the highest tier whose threshold ``cumulative_topup`` reaches."""
    reached = [tier for tier in tiers if cumulative_topup >= tier.min_topup]
    if not reached:
        raise ValueError("the tiers must include one with min_topup 0")
    return max(reached, key=lambda tier: tier.min_topup).rpm


@dataclass(frozen=True, slots=True)
class KeyLimits:
    """A key's own limits; ``None`` (or 0, as stored by forms) means no such limit."""

    rpm: int | None = None
    tpm: int | None = None
    concurrency: int | None = None


@dataclass(frozen=True, slots=True)
class LimitCheck:
    kind: LimitKind
    scope: Scope
    hit: RateHit


@dataclass(frozen=True, slots=True)
class Quota:
    """One dimension's standing, as the rate-limit headers report it."""

    limit: int
    remaining: int
    reset_after_s: float


@dataclass(frozen=True, slots=True)
class Decision:
    """The outcome of a request's limit check.

    ``limit``/``remaining``/``reset_after_s`` describe the binding requests window (the
    refusing one when refused). ``retry_after_s`` is set only when refused (≥ 1 s, until
    every window has room). ``tokens`` is present when a TPM applies; ``tokens_charged``
    is what admission counted against it (see ``RateLimiter.record_tokens``).
    """

    allowed: bool
    limit: int
    remaining: int
    reset_after_s: float
    retry_after_s: int | None = None
    tokens: Quota | None = None
    refused_by: str | None = None
    tokens_charged: int = 0


def _positive(value: int | None) -> int | None:
    return value if value is not None and value > 0 else None


def concurrency_key(key_id: int) -> str:
    return f"conc:k:{key_id}"


def plan_request(
    user_id: int,
    key_id: int,
    user_rpm: int,
    key: KeyLimits,
    estimated_tokens: int = 0,
) -> tuple[LimitCheck, ...]:
    """The windows one request hits. Admission charges ``max(estimated_tokens, 1)`` tokens
    so an exhausted TPM refuses even when the estimate is 0."""
    if user_rpm <= 0:
        raise ValueError("user_rpm must be positive")
    checks = [_check("requests", "user", f"rpm:u:{user_id}", 1, user_rpm)]
    if (key_rpm := _positive(key.rpm)) is not None:
        checks.append(_check("requests", "key", f"rpm:k:{key_id}", 1, key_rpm))
    if (key_tpm := _positive(key.tpm)) is not None:
        checks.append(
            _check("tokens", "key", tokens_key(key_id), max(estimated_tokens, 1), key_tpm)
        )
    return tuple(checks)


def _check(kind: LimitKind, scope: Scope, key: str, cost: int, limit: int) -> LimitCheck:
    return LimitCheck(kind, scope, RateHit(key, WINDOW_S, cost, limit))


def tokens_key(key_id: int) -> str:
    """The key's TPM window, also hit after the call with the tokens beyond the estimate."""
    return f"tpm:k:{key_id}"


def _quota(check: LimitCheck, result: WindowCount) -> Quota:
    limit = check.hit.limit or 0
    return Quota(limit, max(0, limit - result.count), result.reset_after_s)


def decide(checks: Sequence[LimitCheck], results: Sequence[WindowCount]) -> Decision:
    """Fold the windows' results (from ``RateCounter.hit_many``) into one decision."""
    pairs = list(zip(checks, results, strict=True))
    allowed = all(result.allowed for result in results)
    refused = [(c, r) for c, r in pairs if not allowed and r.reset_after_s > 0]
    requests = [(c, r) for c, r in pairs if c.kind == "requests"]
    binding_pool = [p for p in refused if p[0].kind == "requests"] or requests
    check, result = min(binding_pool, key=lambda p: (_quota(*p).remaining, -p[1].reset_after_s))
    binding = _quota(check, result)
    tokens = next((_quota(c, r) for c, r in pairs if c.kind == "tokens"), None)
    retry_after: int | None = None
    refused_by: str | None = None
    if not allowed:
        wait = max((r.reset_after_s for _, r in pairs), default=1.0)
        retry_after = max(1, math.ceil(wait))
        worst = max(refused or pairs, key=lambda p: p[1].reset_after_s)[0]
        refused_by = f"{worst.scope} {worst.kind}"
    charged = next((c.hit.cost for c, _ in pairs if c.kind == "tokens"), 0) if allowed else 0
    return Decision(
        allowed=allowed,
        limit=binding.limit,
        remaining=binding.remaining,
        reset_after_s=binding.reset_after_s,
        retry_after_s=retry_after,
        tokens=tokens,
        refused_by=refused_by,
        tokens_charged=charged,
    )
