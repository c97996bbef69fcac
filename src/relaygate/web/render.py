"""The one Jinja2 environment of the console and ``render(request, template, context)``.

Templates live under ``web/templates/<capability>/``; autoescape is on for every file, so
a value is text unless a template says otherwise. Per request, the context gets the
request's locale and its gettext (``_``, ``gettext``, ``ngettext``), locale-aware
``number()`` and ``datetime()``, exact ``money()`` (core/money.py: the API's format, never
rounded for display), ``csrf_field()``, ``static()``, the navigation and the signed-in
user (``user``, None on public pages).
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Mapping
from datetime import UTC, date, datetime
from decimal import ROUND_HALF_EVEN, Decimal
from pathlib import Path
from typing import Any

from babel import Locale
from babel.dates import format_date, format_datetime, format_skeleton
from babel.numbers import format_decimal
from fastapi import Request
from fastapi.responses import HTMLResponse
from jinja2 import Environment, FileSystemLoader, StrictUndefined
from markupsafe import Markup, escape

from relaygate.accounts.sessions import CSRF_FIELD, ActiveSession
from relaygate.core.money import format_money
from relaygate.web.agents import browser_summary
from relaygate.web.i18n import LANG_COOKIE, LOCALES, Translator, choose_locale, translator
from relaygate.web.nav import nav_for

__all__ = ["TEMPLATES", "environment", "locale_of", "render"]

TEMPLATES = Path(__file__).parent / "templates"
STATIC = "/static/console/"
_BABEL_LOCALES = {"en": "en_US", "zh": "zh_Hans_CN"}


@functools.cache
def environment() -> Environment:
    """Built on first use and shared: the templates are compiled once per process."""
    env = Environment(
        loader=FileSystemLoader(TEMPLATES),
        autoescape=True,
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.globals.update(
        money=format_money,
        static=lambda name: STATIC + name,
        locales=LOCALES,
        browser=browser_summary,
    )
    return env


def locale_of(request: Request) -> str:
    return choose_locale(request.cookies.get(LANG_COOKIE), request.headers.get("accept-language"))


@functools.cache
def _babel_locale(locale: str) -> Locale:
    """Parsed once: babel parses a locale given by name at every call (a third of the
    time of formatting a number), and a bills page formats hundreds."""
    return Locale.parse(_BABEL_LOCALES.get(locale, "en_US"))


_THOUSANDTH = Decimal("0.001")


@functools.cache
def _plain_digits(locale: Locale) -> bool:
    """Whether the locale writes numbers as Python does (``#,##0.###`` with ``,`` and
    ``.``: en, zh): then ``f"{n:,}"`` is babel's text at a fiftieth of the cost (a bills
    page formats hundreds of numbers)."""
    symbols = locale.number_symbols.get("latn", locale.number_symbols)
    return bool(
        locale.decimal_formats[None].pattern == "#,##0.###"
        and symbols.get("group") == ","
        and symbols.get("decimal") == "."
    )


def _small_decimal(value: object) -> bool:
    """A Decimal that quantizes to thousandths within the default 28-digit context."""
    return isinstance(value, Decimal) and value.is_finite() and value.adjusted() < 20


def _plain_number(value: int | Decimal) -> str:
    if type(value) is int:
        return f"{value:,}"
    rounded = Decimal(value).quantize(_THOUSANDTH, rounding=ROUND_HALF_EVEN)  # as babel
    text = f"{rounded:,f}"
    return text.rstrip("0").rstrip(".") if "." in text else text


def _formatters(t: Translator) -> dict[str, Callable[..., str]]:
    babel_locale = _babel_locale(t.locale)
    plain = _plain_digits(babel_locale)

    def number(value: int | Decimal) -> str:
        if plain and (type(value) is int or _small_decimal(value)):
            return _plain_number(value)
        return format_decimal(value, locale=babel_locale)

    def when(value: datetime | None, style: str = "medium") -> str:
        """In UTC, and saying so: the bills and the API speak UTC too."""
        if value is None:
            return ""
        return format_datetime(value, style, tzinfo=UTC, locale=babel_locale) + " UTC"

    def day(value: datetime | date | None) -> str:
        return "" if value is None else format_date(value, "medium", locale=babel_locale)

    def month_day(value: date) -> str:
        """``Dec 7`` / ``12月7日``: a chart's day label."""
        return format_skeleton("MMMd", value, locale=babel_locale)

    return {
        "_": t.gettext,
        "gettext": t.gettext,
        "ngettext": t.ngettext,
        "number": number,
        "datetime": when,
        "date": day,
        "month_day": month_day,
    }


def _csrf_field(user: ActiveSession | None) -> Callable[[], Markup]:
    def field() -> Markup:
        token = user.csrf_token if user else ""
        return Markup('<input type="hidden" name="{}" value="{}">').format(
            CSRF_FIELD, escape(token)
        )

    return field


def render(
    request: Request,
    template: str,
    context: Mapping[str, Any] | None = None,
    *,
    user: ActiveSession | None = None,
    status: int = 200,
) -> HTMLResponse:
    """The page ``template`` for this request's locale and user."""
    t = translator(locale_of(request))
    here = request.url.path
    values: dict[str, Any] = {
        **_formatters(t),
        "lang": t.locale,
        "user": user,
        "here": here,
        "here_full": here + (f"?{request.url.query}" if request.url.query else ""),
        "nav": nav_for(user.is_operator) if user else (),
        "csrf_field": _csrf_field(user),
        "request_id": request.scope.get("rg.request_id", ""),
        **(context or {}),
    }
    html = environment().get_template(template).render(values)
    return HTMLResponse(html, status_code=status, headers={"cache-control": "no-store"})
