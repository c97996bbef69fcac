"""The prices page's pure pieces: multipliers written as configured, and the prediction
form's token counts (whole numbers from 0 to the cap, as typed)."""

from __future__ import annotations

from decimal import Decimal

import pytest

from relaygate.web.pages.prices import MAX_TOKENS, NOT_A_COUNT, TOO_MANY, _check_count, factor


@pytest.mark.parametrize(
    ("value", "text"),
    [
        (Decimal("0.2"), "0.2"),
        (Decimal("1"), "1"),
        (Decimal("1.500"), "1.5"),
        (Decimal("1E+1"), "10"),
        (Decimal("0.000001"), "0.000001"),
        (Decimal("100"), "100"),
    ],
)
def test_a_multiplier_is_written_plainly(value: Decimal, text: str) -> None:
    assert factor(value) == text


@pytest.mark.parametrize(
    ("raw", "error"),
    [
        ("0", None),
        (" 12 ", None),
        (str(MAX_TOKENS), None),
        (str(MAX_TOKENS + 1), TOO_MANY),
        ("-5", NOT_A_COUNT),
        ("1.5", NOT_A_COUNT),
        ("1e3", NOT_A_COUNT),
        ("", NOT_A_COUNT),
        ("٣", NOT_A_COUNT),
        ("+3", NOT_A_COUNT),
    ],
)
def test_token_counts_are_whole_and_capped(raw: str, error: str | None) -> None:
    errors: dict[str, str] = {}
    _check_count(raw, "prompt", errors)
    assert errors.get("prompt") == error
