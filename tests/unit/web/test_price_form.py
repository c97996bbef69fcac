"""The console's price form: exact decimals read as the price API reads them."""

from __future__ import annotations

import pytest

from relaygate.billing.models import ModelPrice
from relaygate.web.forms import FormErrors
from relaygate.web.price_form import price_row, read_price


def _row() -> ModelPrice:
    return ModelPrice(
        model="m",
        input=1_500_000,
        output=3_000_000,
        cached_input=None,
        cache_write=None,
        reasoning=None,
        per_call=0,
        per_image=40_000,
        per_character=0,
        per_second=0,
        multiplier="1.2",
        flex=True,
        vip_only=False,
        source="api",
    )


def test_a_row_shows_exact_prices_without_trailing_zeros() -> None:
    row = price_row(_row())
    assert row.values["input"] == "1.5" and row.values["per_image"] == "0.04"
    assert row.values["cached_input"] == ""


def test_a_row_edit_keeps_the_prices_it_does_not_show() -> None:
    fields = read_price({"input": "2.125", "output": "3", "multiplier": "1.5"}, price_row(_row()))
    assert fields["input"] == 2_125_000 and fields["per_image"] == 40_000
    assert fields["cached_input"] is None and fields["multiplier"] == "1.5"
    assert fields["flex"] is False  # an unticked box is posted as nothing


@pytest.mark.parametrize(
    ("form", "field"),
    [
        ({"input": "1.1234567"}, "input"),
        ({"output": "-1"}, "output"),
        ({"input": "abc"}, "input"),
        ({"multiplier": "-2"}, "multiplier"),
    ],
)
def test_bad_values_are_errors_on_their_field(form: dict[str, str], field: str) -> None:
    with pytest.raises(FormErrors) as caught:
        read_price(form, price_row(_row()))
    assert field in caught.value.errors
