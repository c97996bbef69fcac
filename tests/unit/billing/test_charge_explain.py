"""The charge explanation's arithmetic (billing/charge_explain.py); many real bill
lines: tests/integration/test_charge_explain_random.py."""

from __future__ import annotations

from decimal import Decimal
from fractions import Fraction

from relaygate.billing.charge_explain import explain
from relaygate.billing.models import UsageRecord
from relaygate.billing.pricing import Price, charge, official_cost
from relaygate.core.units import Usage


def _record(**fields: object) -> UsageRecord:
    base: dict[str, object] = {
        "id": 1, "model": "m", "route_group": "", "prompt_tokens": 0, "completion_tokens": 0,
        "cached_tokens": 0, "reasoning_tokens": 0, "images": 0, "characters": 0, "audio_ms": 0,
        "official_cost": 0, "package_amount": 0, "multiplier": "1", "model_multiplier": "1",
        "route_multiplier": "1", "tier_multiplier": "1", "group_multiplier": "1", "amount": 0,
        "free_amount": 0,
    }  # fmt: skip
    base.update(fields)
    return UsageRecord(**base)


def test_explanation_applies_the_multiplier_to_the_exact_official_cost() -> None:
    price = Price(input=3, output=7)  # a third of a micro-unit per ... : fractions matter
    units = Usage(prompt_tokens=333_333, completion_tokens=1)
    exact = official_cost(price, units)
    billed = charge(exact, Decimal("1.5"))
    row = _record(
        prompt_tokens=333_333,
        completion_tokens=1,
        official_cost=charge(exact, Decimal(1)),
        multiplier="1.5",
        model_multiplier="1.5",
        amount=billed,
    )
    told = explain(row, price)
    assert told.official_exact == exact and told.official_recomputed
    assert told.derived_amount == billed and told.exact
    assert told.official_exact != Fraction(told.official_cost)  # the rounding mattered


def test_explanation_with_a_package_starts_from_the_rounded_rest() -> None:
    row = _record(official_cost=1000, package_amount=400, multiplier="0.25", amount=150)
    told = explain(row, Price())
    assert told.rest_official == Fraction(600) and told.derived_amount == 150 and told.exact


def test_changed_prices_are_reported_not_hidden() -> None:
    row = _record(prompt_tokens=1_000_000, official_cost=5, amount=5)
    told = explain(row, Price(input=9))
    assert not told.official_recomputed and told.derived_amount == 5
