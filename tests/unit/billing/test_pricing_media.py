"""Media units at their own prices: images, characters (per million), started seconds."""

from __future__ import annotations

from decimal import Decimal
from fractions import Fraction

import pytest

from relaygate.billing.pricing import Price, charge, official_cost
from relaygate.core.money import parse_money
from relaygate.core.units import Usage

DALLE = Price(per_image=parse_money("0.04"))  # $0.04 an image
TTS = Price(per_character=parse_money("15"))  # $15 / 1M characters
WHISPER = Price(per_second=parse_money("0.0001"))  # $0.006 a minute


@pytest.mark.parametrize(
    ("price", "units", "expected"),
    [
        pytest.param(DALLE, Usage(images=3), Fraction(120_000), id="three-images"),
        pytest.param(DALLE, Usage(images=0), Fraction(0), id="no-image"),
        pytest.param(TTS, Usage(characters=1000), Fraction(15_000), id="1000-chars"),
        pytest.param(TTS, Usage(characters=1), Fraction(15), id="one-char"),
        pytest.param(
            Price(per_character=1), Usage(characters=3), Fraction(3, 1_000_000), id="tiny"
        ),
        pytest.param(WHISPER, Usage(audio_ms=2000), Fraction(200), id="two-seconds"),
        pytest.param(WHISPER, Usage(audio_ms=2001), Fraction(300), id="started-second"),
        pytest.param(WHISPER, Usage(audio_ms=1), Fraction(100), id="one-ms"),
        pytest.param(WHISPER, Usage(audio_ms=0), Fraction(0), id="no-audio"),
        pytest.param(WHISPER, Usage(audio_ms=-5), Fraction(0), id="negative-ignored"),
    ],
)
def test_media_units_cost_exactly(price: Price, units: Usage, expected: Fraction) -> None:
    assert official_cost(price, units) == expected


def test_images_and_tokens_add_up() -> None:
    """gpt-image models: the image fee plus their input and output tokens."""
    price = Price(input=parse_money("5"), output=parse_money("40"), per_image=parse_money("0.01"))
    units = Usage(prompt_tokens=50, completion_tokens=4160, images=2)
    # 50 × 5 + 4160 × 40 per million micro-units, plus 2 × 10_000
    assert official_cost(price, units) == Fraction(250 + 166_400) + 20_000
    assert charge(official_cost(price, units), Decimal("1.5")) == 279_975


def test_every_media_price_applies_to_its_own_unit_only() -> None:
    price = Price(per_image=7, per_character=1_000_000, per_second=11, per_call=3)
    units = Usage(images=2, characters=5, audio_ms=1500)
    assert official_cost(price, units) == 2 * 7 + 5 + 2 * 11 + 3
