"""Top-up amounts: minor units per currency, and the operator's options and limits."""

from __future__ import annotations

import pytest

from relaygate.core.errors import InvalidRequest
from relaygate.payments.amounts import TopUpLimits, from_minor, minor_units

LIMITS = TopUpLimits("usd", options=(2_000_000,), minimum=5_000_000, maximum=500_000_000)


@pytest.mark.parametrize(
    ("amount", "currency", "minor"),
    [
        (20_000_000, "usd", 2000),
        (12_340_000, "eur", 1234),
        (500_000_000, "jpy", 500),
        (1_234_000, "kwd", 1234),
    ],
)
def test_minor_units_round_trip(amount: int, currency: str, minor: int) -> None:
    assert minor_units(amount, currency) == minor
    assert from_minor(minor, currency) == amount


@pytest.mark.parametrize(("amount", "currency"), [(20_001_000, "usd"), (1_500_000, "jpy")])
def test_a_fraction_of_a_minor_unit_is_refused(amount: int, currency: str) -> None:
    with pytest.raises(InvalidRequest) as refused:
        minor_units(amount, currency)
    assert refused.value.param == "amount"


def test_an_option_below_the_minimum_is_still_offered() -> None:
    assert LIMITS.check(2_000_000) == 200
    assert LIMITS.check(5_000_000) == 500 and LIMITS.check(500_000_000) == 50_000


@pytest.mark.parametrize("amount", [4_990_000, 500_010_000, 0])
def test_free_amounts_outside_the_limits_are_refused(amount: int) -> None:
    with pytest.raises(InvalidRequest, match="between 5.000000 and 500.000000"):
        LIMITS.check(amount)
