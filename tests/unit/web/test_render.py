"""The template helpers: numbers and dates per locale, money exact in every locale."""

from __future__ import annotations

import random
from datetime import UTC, datetime
from decimal import Decimal

from babel.numbers import format_decimal

from relaygate.web.i18n import translator
from relaygate.web.render import _babel_locale, _formatters, environment

MOMENT = datetime(2026, 12, 7, 21, 5, tzinfo=UTC)


def test_numbers_and_dates_follow_the_locale() -> None:
    en, zh = _formatters(translator("en")), _formatters(translator("zh"))
    assert en["number"](10000) == "10,000"
    assert en["datetime"](MOMENT) == "Dec 7, 2026, 9:05:00\u202fPM UTC"
    assert zh["datetime"](MOMENT) == "2026年12月7日 21:05:00 UTC"
    assert zh["date"](MOMENT) == "2026年12月7日"
    assert en["datetime"](None) == ""


def test_money_is_exact_whatever_the_locale() -> None:
    money = environment().globals["money"]
    assert money(1_234_567) == "1.234567"
    assert money(-700_000) == "-0.700000"


def test_templates_escape_what_they_are_given() -> None:
    page = environment().from_string("{{ value }}").render(value="<script>x</script>")
    assert page == "&lt;script&gt;x&lt;/script&gt;"


def test_a_charts_day_label_is_short_and_localised() -> None:
    day = MOMENT.date()
    assert _formatters(translator("en"))["month_day"](day) == "Dec 7"
    assert _formatters(translator("zh"))["month_day"](day) == "12月7日"
    assert _formatters(translator("en"))["date"](day) == "Dec 7, 2026"


def test_numbers_are_babels_text_by_the_short_way() -> None:
    rng = random.Random(7)
    values: list[int | Decimal] = [0, 7, -7, 999, 1000, -1_234_567, 10**15]
    values += [Decimal(t) for t in ("0.004", "0.0045", "0.0055", "-0.0004", "-0", "1E+3", "30.000")]
    values += [Decimal(rng.randint(0, 10**9)).scaleb(-rng.randint(0, 6)) for _ in range(2000)]
    for locale in ("en", "zh"):
        number = _formatters(translator(locale))["number"]
        for value in values:
            assert number(value) == format_decimal(value, locale=_babel_locale(locale)), value
