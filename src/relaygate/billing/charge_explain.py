"""Why a bill line costs what it costs: official prices × multipliers, packages first.

Derived from the stored usage row and the pricing code (pricing.py), the same steps
``Charging.price`` takes: the call's cost at official prices (exact), rounded once to
the ``official_cost`` the row stores; what resource packages covered, taken first at
official prices; the rest × the multiplier (model × route group × service tier (flex) ×
user group; the row stores each), rounded once, half up, never below zero; the free
balance pays first out of that amount. The user's override rules ran before all of it
(docs/rules.md): the model and the units are those the rules left, and ``rules`` names
the rules that fired.

The derivation is exact when the packages covered anything (the row holds everything it
needs). When they covered nothing, the multiplier applies to the *exact* official cost,
which the row holds only rounded: it is recomputed from the row's units and the model's
current prices, and used only if it rounds to the stored ``official_cost`` (the prices
did not change since, and the call wrote no cache at a price of its own: cache writes are
not stored per row). Otherwise the explanation starts from the stored, rounded official
cost and says so (``official_recomputed`` false); ``exact`` says whether the derived
amount equals the billed one, which it does whenever the recomputation holds.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from fractions import Fraction

from relaygate.billing.models import UsageRecord
from relaygate.billing.pricing import Price, charge, official_cost
from relaygate.core.units import Usage

__all__ = ["ChargeExplanation", "explain"]


@dataclass(frozen=True, slots=True)
class ChargeExplanation:
    """One bill line, step by step. Money in micro-units; ``Fraction`` where a value is
    exact before the one rounding."""

    usage_id: int
    model: str
    route_group: str  # "" for /v1
    prices: Price  # the model's official prices now (micro-units per million tokens)
    prompt_tokens: int  # every input token (cached ones included)
    cached_tokens: int
    completion_tokens: int  # every output token (reasoning included)
    reasoning_tokens: int
    images: int
    characters: int
    audio_ms: int
    official_exact: Fraction  # the cost at official prices, before rounding
    official_recomputed: bool  # official_exact comes from the current prices (see doc)
    official_cost: int  # rounded, as billed
    package_covered: int  # taken from resource packages, at official prices
    rest_official: Fraction  # what the multipliers apply to
    model_multiplier: Decimal
    route_multiplier: Decimal
    tier_multiplier: Decimal  # the flex service tier's, or 1
    group_multiplier: Decimal  # the user's pricing group's, or 1
    multiplier: Decimal  # the product applied
    derived_amount: int  # rest_official × multiplier, rounded half up, at least 0
    billed_amount: int  # what the line says was charged
    free_amount: int  # of billed_amount, paid by the free balance
    paid_amount: int  # of billed_amount, paid by the balance
    rules: tuple[int, ...] = ()  # the override rules that rewrote the call before pricing

    @property
    def exact(self) -> bool:
        return self.derived_amount == self.billed_amount


def _units(row: UsageRecord) -> Usage:
    return Usage(
        prompt_tokens=row.prompt_tokens,
        completion_tokens=row.completion_tokens,
        cached_tokens=row.cached_tokens,
        reasoning_tokens=row.reasoning_tokens,
        images=row.images,
        characters=row.characters,
        audio_ms=row.audio_ms,
    )


def explain(row: UsageRecord, price: Price) -> ChargeExplanation:
    """Explain ``row`` with ``price``, the model's official prices (``Catalogue.rated(
    model).price``: a model without a price is priced at zero, as the relay prices it)."""
    recomputed = official_cost(price, _units(row))
    matches = charge(recomputed, Decimal(1)) == row.official_cost
    official = recomputed if matches else Fraction(row.official_cost)
    covered = row.package_amount
    rest = official if not covered else Fraction(row.official_cost - covered)
    multiplier = Decimal(row.multiplier)
    return ChargeExplanation(
        usage_id=row.id,
        model=row.model,
        route_group=row.route_group,
        prices=price,
        prompt_tokens=row.prompt_tokens,
        cached_tokens=row.cached_tokens,
        completion_tokens=row.completion_tokens,
        reasoning_tokens=row.reasoning_tokens,
        images=row.images,
        characters=row.characters,
        audio_ms=row.audio_ms,
        official_exact=official,
        official_recomputed=matches,
        official_cost=row.official_cost,
        package_covered=covered,
        rest_official=rest,
        model_multiplier=Decimal(row.model_multiplier),
        route_multiplier=Decimal(row.route_multiplier),
        tier_multiplier=Decimal(row.tier_multiplier),
        group_multiplier=Decimal(row.group_multiplier),
        multiplier=multiplier,
        derived_amount=max(0, charge(rest, multiplier)),
        billed_amount=row.amount,
        free_amount=row.free_amount,
        paid_amount=row.amount - row.free_amount,
        rules=row.rule_ids,
    )
