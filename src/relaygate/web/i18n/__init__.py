"""The console's one translation catalogue: English source strings, Chinese in ``zh/``.

Why no compile step: the ``.po`` file is read with babel when the catalogue is first
needed, so editing a translation needs no ``.mo`` build and no generated file is
committed. A string missing from the catalogue shows in English (gettext's rule); a unit
test keeps every string the templates and pages use translated.

The locale is the ``rg_lang`` cookie (set by the language switch) when it names a known
locale, else the best match of ``Accept-Language``, else English.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType
from typing import Any

from babel.messages.pofile import read_po

__all__ = ["DEFAULT", "N_", "LANG_COOKIE", "LOCALES", "Translator", "choose_locale", "translator"]

LANG_COOKIE = "rg_lang"
DEFAULT = "en"
LOCALES = MappingProxyType({"en": "English", "zh": "中文"})
_HERE = Path(__file__).parent


def N_(message: str) -> str:  # noqa: N802 - the marker gettext extractors look for
    """Marks a msgid for extraction where it is defined; it is translated where shown."""
    return message


@dataclass(frozen=True, slots=True)
class Translator:
    """gettext for one locale; ``_("Hi %(name)s", name=x)`` formats after translating."""

    locale: str
    messages: MappingProxyType[str, Any] = field(default_factory=lambda: MappingProxyType({}))

    def gettext(self, message: str, **values: Any) -> str:
        found = self.messages.get(message)
        text = found if isinstance(found, str) and found else message
        return text % values if values else text

    def ngettext(self, singular: str, plural: str, n: int, **values: Any) -> str:
        found = self.messages.get(singular)
        if isinstance(found, tuple) and all(found):
            text = str(found[0] if n == 1 or len(found) == 1 else found[1])
        else:
            text = singular if n == 1 else plural
        return text % {"num": n, **values}


@functools.cache
def translator(locale: str) -> Translator:
    """The catalogue of ``locale`` (read once per process; English has none)."""
    po = _HERE / locale / "LC_MESSAGES" / "messages.po"
    if locale == DEFAULT or not po.is_file():
        return Translator(DEFAULT)
    with po.open("rb") as handle:
        catalog = read_po(handle, locale=locale)
    messages: dict[str, Any] = {}
    for message in catalog:
        if not message.id or message.fuzzy:
            continue
        key = str(message.id if isinstance(message.id, str) else message.id[0])
        messages[key] = (
            tuple(message.string) if isinstance(message.string, tuple) else message.string
        )
    return Translator(locale, MappingProxyType(messages))


def choose_locale(cookie: str | None, accept_language: str | None) -> str:
    """The ``rg_lang`` cookie if known, else the first known language of the header
    (by its q-values), else English."""
    if cookie in LOCALES:
        return str(cookie)
    ranked: list[tuple[float, int, str]] = []
    for position, part in enumerate((accept_language or "").split(",")):
        tag, _, params = part.strip().partition(";")
        quality = 1.0
        if params.strip().startswith("q="):
            try:
                quality = float(params.strip()[2:])
            except ValueError:
                quality = 0.0
        language = tag.strip().lower().split("-")[0]
        if language in LOCALES and quality > 0:
            ranked.append((-quality, position, language))
    return min(ranked)[2] if ranked else DEFAULT
