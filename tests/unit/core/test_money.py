"""The one money formatter and parser: exact, six decimals, refusals that name the field."""

from __future__ import annotations

from decimal import Decimal
from fractions import Fraction

import pytest

from relaygate.core.errors import InvalidRequest
from relaygate.core.money import MoneyError, format_exact, format_money, parse_money


@pytest.mark.parametrize(
    ("micro", "expected"),
    [
        (0, "0.000000"),
        (1, "0.000001"),
        (1_234_567, "1.234567"),  # was "1.23" on balances and packages
        (1_225_000, "1.225000"),  # never rounded
        (2_500_000, "2.500000"),
        (8_217_000_000, "8217.000000"),
        (-1, "-0.000001"),
        (-700_000, "-0.700000"),
        (-1_234_567, "-1.234567"),
        (2**63 - 1, "9223372036854.775807"),
    ],
)
def test_format_money_is_exact_with_six_decimals(micro: int, expected: str) -> None:
    assert format_money(micro) == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2.50", 2_500_000),
        ("0", 0),
        ("0.000001", 1),
        ("12.34", 12_340_000),
        ("8217", 8_217_000_000),
        ("-3.5", -3_500_000),
        ("1.500000", 1_500_000),
        ("1.5000000000", 1_500_000),  # trailing zeros are not decimals that carry a digit
        (" 7 ", 7_000_000),
        (3, 3_000_000),
        (Decimal("0.15"), 150_000),
        ("1e-6", 1),
        ("9223372036854.775807", 2**63 - 1),
    ],
)
def test_parse_money(text: str | int | Decimal, expected: int) -> None:
    result = parse_money(text)
    assert type(result) is int
    assert result == expected


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("0.0000001", "six decimals"),
        ("1.2345678", "six decimals"),
        ("-0.0000005", "six decimals"),
        ("1e-7", "six decimals"),
        ("1e-9999999999", "six decimals"),  # a context would round it to 0
        ("1e999999999", "too large"),  # refused before a billion-digit integer is built
        ("9223372036854.775808", "too large"),
        ("NaN", "finite"),
        ("Infinity", "finite"),
        ("ten", "decimal amount"),
        ("", "decimal amount"),
    ],
)
def test_parse_money_refuses_with_the_fields_name(text: str, reason: str) -> None:
    with pytest.raises(MoneyError, match=reason) as caught:
        parse_money(text, "max_fee")
    assert caught.value.param == "max_fee"
    assert "'max_fee'" in caught.value.message
    assert isinstance(caught.value, InvalidRequest)  # a 400 on every route
    assert isinstance(caught.value, ValueError)  # and a validation error in settings


@pytest.mark.parametrize("micro", [0, 1, -1, 999_999, 1_000_000, 12_345_678, 2**63 - 1])
def test_format_then_parse_is_the_identity(micro: int) -> None:
    assert parse_money(format_money(micro)) == micro


@pytest.mark.parametrize(
    ("micro", "expected"),
    [
        (Fraction(6000), "0.006000"),
        (Fraction(2667, 2), "0.0013335"),
        (Fraction(1, 1024), "0.0000000009765625"),
        (Fraction(-5, 4), "-0.00000125"),
        (Fraction(1, 3), "0.000000333333333333…"),  # never ends: cut, and says so
        (Fraction(123456789), "123.456789"),
    ],
)
def test_format_exact_writes_every_digit_there_is(micro: Fraction, expected: str) -> None:
    assert format_exact(micro) == expected
