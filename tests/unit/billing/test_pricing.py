"""Golden cases of the pure pricing code: official cost, multipliers, one rounding."""

from __future__ import annotations

from decimal import Decimal
from fractions import Fraction

import pytest

from relaygate.billing.pricing import (
    MICRO,
    Multipliers,
    Price,
    charge,
    official_cost,
)
from relaygate.core.units import Usage

# Prices in micro-units per 1M tokens: 2.00 in, 8.00 out.
BASE = Price(input=2_000_000, output=8_000_000)

OFFICIAL_CASES = [
    pytest.param(BASE, Usage(1000, 500), Fraction(6000), id="plain-in-out"),
    pytest.param(BASE, Usage(0, 0), Fraction(0), id="nothing"),
    pytest.param(
        Price(input=2_000_000, cached_input=500_000),
        Usage(prompt_tokens=1000, cached_tokens=400),
        Fraction(600 * 2 + 400 * Fraction(1, 2)),
        id="cached-own-price",
    ),
    pytest.param(
        Price(input=2_000_000),
        Usage(prompt_tokens=1000, cached_tokens=400),
        Fraction(2000),
        id="cached-falls-back-to-input",
    ),
    pytest.param(
        Price(input=2_000_000, cached_input=0),
        Usage(prompt_tokens=1000, cached_tokens=400),
        Fraction(1200),
        id="cached-free-is-not-fallback",
    ),
    pytest.param(
        Price(output=8_000_000, reasoning=12_000_000),
        Usage(completion_tokens=500, reasoning_tokens=200),
        Fraction(300 * 8 + 200 * 12),
        id="reasoning-own-price",
    ),
    pytest.param(
        Price(output=8_000_000),
        Usage(completion_tokens=500, reasoning_tokens=200),
        Fraction(4000),
        id="reasoning-falls-back-to-output",
    ),
    pytest.param(
        Price(input=3_000_000, cached_input=300_000, cache_write=3_750_000),
        Usage(prompt_tokens=1000, cached_tokens=300, cache_write_tokens=200),
        Fraction(500 * 3) + Fraction(300 * 3, 10) + Fraction(200 * 375, 100),
        id="cache-write-own-price",
    ),
    pytest.param(
        Price(input=3_000_000),
        Usage(prompt_tokens=1000, cache_write_tokens=200),
        Fraction(3000),
        id="cache-write-falls-back-to-input",
    ),
    pytest.param(
        Price(input=1_000_000, cached_input=100_000, cache_write=2_000_000),
        Usage(prompt_tokens=1000, cached_tokens=800, cache_write_tokens=500),
        Fraction(800 * 1, 10) + Fraction(200 * 2),
        id="cache-read-and-write-clamped-to-prompt",
    ),
    pytest.param(
        Price(output=8_000_000, reasoning=1_000_000),
        Usage(completion_tokens=100, reasoning_tokens=500),
        Fraction(100),
        id="reasoning-clamped-to-completion",
    ),
    pytest.param(
        Price(input=2_000_000, output=8_000_000, per_call=10_000),
        Usage(1000, 500),
        Fraction(16_000),
        id="per-call-on-top",
    ),
    pytest.param(
        Price(input=2_000_000, cached_input=500_000, output=8_000_000),
        Usage(prompt_tokens=1000, cached_tokens=800, completion_tokens=100, reasoning_tokens=60),
        Fraction(1600),
        id="docs-cached-and-reasoning-example",
    ),
    pytest.param(
        Price(input=150_000), Usage(prompt_tokens=3), Fraction(45, 100), id="docs-3-tokens"
    ),
    pytest.param(Price(input=150_000), Usage(prompt_tokens=4), Fraction(6, 10), id="docs-4-tokens"),
    pytest.param(Price(per_call=40_000), Usage(), Fraction(40_000), id="per-call-only"),
    pytest.param(Price(input=150_000), Usage(prompt_tokens=1), Fraction(15, 100), id="tiny-call"),
    pytest.param(
        Price(input=2_500_000),
        Usage(prompt_tokens=123_456_789),
        Fraction(617_283_945, 2),
        id="huge-count-exact",
    ),
    pytest.param(
        BASE,
        Usage(-5, -3, cached_tokens=-1, cache_write_tokens=-7, reasoning_tokens=-2),
        Fraction(0),
        id="negative-counts-clamp",
    ),
    pytest.param(
        BASE,
        Usage(100, -3, cached_tokens=-50, reasoning_tokens=-2),
        Fraction(200),
        id="negative-details-clamp",
    ),
    pytest.param(
        BASE,
        Usage(-100, 10, cached_tokens=40, reasoning_tokens=20),
        Fraction(80),
        id="details-on-negative-totals",
    ),
]


@pytest.mark.parametrize(("price", "tokens", "expected"), OFFICIAL_CASES)
def test_official_cost(price: Price, tokens: Usage, expected: Fraction) -> None:
    cost = official_cost(price, tokens)
    assert isinstance(cost, Fraction)
    assert cost == expected


CHARGE_CASES = [
    pytest.param(Fraction(6000), Decimal("0.5"), 3000, id="brief-example-6000x0.5"),
    pytest.param(Fraction(MICRO), Decimal("0.5"), 500_000, id="seed-1.00-at-0.5"),
    pytest.param(Fraction(6000), Decimal("0.25"), 1500, id="docs-flex-example"),
    pytest.param(Fraction(45, 100), Decimal(1), 0, id="docs-0.45-micro"),
    pytest.param(Fraction(6, 10), Decimal(1), 1, id="docs-0.6-micro"),
    pytest.param(Fraction(MICRO), Decimal(1), MICRO, id="identity"),
    pytest.param(Fraction(MICRO), Decimal(0), 0, id="free-multiplier"),
    pytest.param(Fraction(1, 2), Decimal(1), 1, id="exact-half-rounds-up"),
    pytest.param(Fraction(5, 2), Decimal(1), 3, id="half-up-not-bankers"),
    pytest.param(Fraction(3, 2), Decimal(1), 2, id="half-up-odd"),
    pytest.param(Fraction(499_999, 1_000_000), Decimal(1), 0, id="just-below-half"),
    pytest.param(Fraction(500_001, 1_000_000), Decimal(1), 1, id="just-above-half"),
    pytest.param(Fraction(15, 100), Decimal(1), 0, id="tiny-rounds-to-zero"),
    pytest.param(Fraction(1), Decimal("0.5"), 1, id="half-after-multiplier"),
    pytest.param(Fraction(1), Decimal("0.499999"), 0, id="below-half-after-multiplier"),
    pytest.param(Fraction(617_283_945, 2), Decimal(1), 308_641_973, id="huge-half-up"),
    pytest.param(Fraction(617_283_945, 2), Decimal("0.1"), 30_864_197, id="huge-times-0.1"),
    pytest.param(Fraction(1, 3), Decimal(3), 1, id="exact-fractions-no-double-rounding"),
    pytest.param(Fraction(10**15), Decimal("1.5"), 15 * 10**14, id="very-large"),
]


@pytest.mark.parametrize(("official", "multiplier", "expected"), CHARGE_CASES)
def test_charge(official: Fraction, multiplier: Decimal, expected: int) -> None:
    result = charge(official, multiplier)
    assert type(result) is int
    assert result == expected


def test_multipliers_product() -> None:
    mult = Multipliers(model=Decimal("0.5"), route=Decimal("0.2"), tier=Decimal("0.5"))
    assert mult.total == Decimal("0.05")
    assert Multipliers().total == Decimal(1)
    assert Multipliers(group=Decimal("0.8"), model=Decimal("1.25")).total == Decimal(1)
    official = official_cost(BASE, Usage(1000, 500))  # 6000 micro
    assert charge(official, mult.total) == 300
    assert charge(official, Multipliers(model=Decimal("0.5")).total) == 3000


def test_one_rounding_only() -> None:
    """0.3 micro per call × 5 calls is not 5 × round(0.3); one call rounds once."""
    price = Price(input=300_000)  # 0.30 per 1M → 0.3 micro per token
    assert charge(official_cost(price, Usage(prompt_tokens=1)), Decimal(1)) == 0
    assert charge(official_cost(price, Usage(prompt_tokens=5)), Decimal(1)) == 2  # 1.5
    # the multiplier applies to the exact cost, not to a rounded one
    assert charge(official_cost(price, Usage(prompt_tokens=5)), Decimal("0.2")) == 0  # 0.3
    assert charge(official_cost(price, Usage(prompt_tokens=10)), Decimal("0.5")) == 2  # 1.5


def test_tiny_and_huge_end_to_end() -> None:
    tiny = official_cost(Price(input=150_000), Usage(prompt_tokens=1))
    assert charge(tiny, Decimal(1)) == 0
    huge = official_cost(Price(input=2_500_000), Usage(prompt_tokens=123_456_789))
    assert charge(huge, Decimal(1)) == 308_641_973
    # float arithmetic would give 308641972.49999994 or similar for some prices
    odd = official_cost(Price(input=1_100_000), Usage(prompt_tokens=123_456_789))
    assert odd == Fraction(123_456_789 * 11, 10)
    assert charge(odd, Decimal(1)) == 135_802_468  # 135802467.9 → 135802468
