"""The template helpers: numbers and dates per locale, money exact in every locale."""

from __future__ import annotations

from datetime import UTC, datetime

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


def test_whole_numbers_are_babels_text_by_the_short_way() -> None:
    for locale in ("en", "zh"):
        number = _formatters(translator(locale))["number"]
        for value in (0, 7, 999, 1000, -1_234_567, 10**15):
            assert number(value) == format_decimal(value, locale=_babel_locale(locale))
