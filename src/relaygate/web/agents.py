"""A browser's User-Agent, summarised for the session list (Firefox on Windows).

The list helps a person recognise their own devices; the raw header is long and mostly
noise. Order matters: Edge and Opera say "Chrome" too, Chrome says "Safari", so the more
specific names are tried first. Anything unknown shows its first product token.
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["Browser", "browser_summary"]

_BROWSERS = (
    ("Edg/", "Edge"),
    ("OPR/", "Opera"),
    ("Firefox/", "Firefox"),
    ("Chrome/", "Chrome"),
    ("Chromium/", "Chromium"),
    ("Safari/", "Safari"),
)
_SYSTEMS = (
    ("iPhone", "iPhone"),
    ("iPad", "iPad"),
    ("Android", "Android"),
    ("Windows", "Windows"),
    ("Mac OS X", "macOS"),
    ("CrOS", "ChromeOS"),
    ("Linux", "Linux"),
)


@dataclass(frozen=True, slots=True)
class Browser:
    """``name`` on ``system`` (the template words it per language); ``system`` may be ""."""

    name: str
    system: str


def browser_summary(agent: str) -> Browser:
    """Chrome on macOS; else the first product token (``curl/8.5.0``); ``""`` for none."""
    browser = next((name for token, name in _BROWSERS if token in agent), None)
    system = next((name for token, name in _SYSTEMS if token in agent), "")
    if browser is None:
        return Browser(agent.split(" ", 1)[0][:60], "")
    return Browser(browser, system)
