"""The dashboard's chart labels: currency units, exact, without trailing zeros."""

from __future__ import annotations

import pytest

from relaygate.web.pages.dashboard import units


@pytest.mark.parametrize(
    ("micro", "text"),
    [
        (0, "0"),
        (250, "0.00025"),
        (1_000_000, "1"),
        (2_500_000, "2.5"),
        (20_000_000, "20"),
        (1, "0.000001"),
    ],
)
def test_grid_values_in_currency_units(micro: int, text: str) -> None:
    assert units(micro) == text
