"""The sign-in mail's words: the language chosen, every part present, the link escaped."""

from __future__ import annotations

import html

import pytest

from relaygate.accounts.mail_text import LOCALES, login_mail, pick_locale


@pytest.mark.parametrize(
    ("requested", "header", "expected"),
    [
        ("zh", "", "zh"),
        ("en", "zh-CN", "en"),
        ("", "zh-CN,zh;q=0.9,en;q=0.8", "zh"),
        (None, "fr-FR, zh_TW;q=0.5", "zh"),
        ("fr", "de", "en"),
        (None, "", "en"),
        ("ZH-hans", "", "zh"),
    ],
)
def test_pick_locale(requested: str | None, header: str, expected: str) -> None:
    assert pick_locale(requested, header) == expected


@pytest.mark.parametrize("locale", sorted(LOCALES))
def test_every_locale_says_everything(locale: str) -> None:
    link = "https://gw.example/console/auth?token=a&b=<x>"
    mail = login_mail("ada@example.test", link, 15, locale, "Relaygate")
    assert mail.to == "ada@example.test" and mail.link == link
    assert "Relaygate" in mail.subject
    assert link in mail.text and "15" in mail.text
    words = LOCALES[locale]
    for part in (words.ignore, words.action):
        assert html.escape(part) in mail.html
    assert words.ignore in mail.text
    # the link is escaped in the HTML (no markup injected through it)
    assert "<x>" not in mail.html and "&amp;b=&lt;x&gt;" in mail.html


def test_an_unknown_locale_falls_back_to_english() -> None:
    mail = login_mail("a@b.test", "https://x/y", 5, "fr", "Site")
    assert mail.subject == "Your sign-in link for Site"
    assert "5 minutes" in mail.text
