"""Every string the console shows has a Chinese translation, and the locale is chosen as
documented (cookie, then Accept-Language, then English)."""

from __future__ import annotations

from pathlib import Path

from babel.messages.extract import extract
from jinja2.ext import babel_extract

from relaygate.web.i18n import choose_locale, translator

WEB = Path(__file__).resolve().parents[3] / "src" / "relaygate" / "web"
KEYWORDS = {"_": None, "gettext": None, "ngettext": (1, 2), "N_": None}


def _ids(found: object) -> list[str]:
    """The msgid (a plural's catalogue key is its singular)."""
    if isinstance(found, tuple):
        found = found[0]
    return [str(found)] if found else []


def used_msgids() -> set[str]:
    msgids: set[str] = set()
    for template in (WEB / "templates").rglob("*.html"):
        with template.open("rb") as handle:
            for _line, _func, message, _comments in babel_extract(handle, list(KEYWORDS), [], {}):
                msgids.update(_ids(message))
    for module in [*(WEB / "pages").rglob("*.py"), *WEB.glob("*.py")]:
        with module.open("rb") as handle:
            for _line, message, _comments, _context in extract("python", handle, KEYWORDS):
                msgids.update(_ids(message))
    return msgids


def test_strings_are_found() -> None:
    assert {"Sign in", "Dashboard", "Page not found"} <= used_msgids()


def test_every_msgid_has_a_chinese_translation() -> None:
    zh = translator("zh")
    missing = sorted(m for m in used_msgids() if not zh.messages.get(m))
    assert not missing, "untranslated in web/i18n/zh/LC_MESSAGES/messages.po:\n" + "\n".join(
        missing
    )


def test_plural_and_values_are_formatted() -> None:
    en = translator("en")
    assert en.ngettext("%(num)s day", "%(num)s days", 1) == "1 day"
    assert en.ngettext("%(num)s day", "%(num)s days", 30) == "30 days"
    assert translator("zh").ngettext("%(num)s day", "%(num)s days", 30) == "30 天"
    assert en.gettext("until %(date)s", date="May 1") == "until May 1"


def test_the_cookie_wins_then_the_header_then_english() -> None:
    assert choose_locale("zh", "en-US,en;q=0.9") == "zh"
    assert choose_locale("xx", "fr;q=1, zh-CN;q=0.8, en;q=0.5") == "zh"
    assert choose_locale(None, "en;q=0.4, zh;q=0.9") == "zh"
    assert choose_locale(None, "fr, de") == "en"
    assert choose_locale(None, None) == "en"
