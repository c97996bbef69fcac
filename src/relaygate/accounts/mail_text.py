"""The words of the sign-in mail, in English and Chinese.

Kept as a small catalogue of plain strings (one record per locale) rather than in the
console's gettext catalogue, because the mailer sits in ``accounts`` below ``web`` and
must not import it; the console's i18n can absorb these entries later (the English text
is the msgid). :func:`login_mail` fills a :class:`LoginMail` that the mailer turns into
a plain-text message with an HTML alternative.
"""

from __future__ import annotations

import html
from dataclasses import dataclass

__all__ = ["LOCALES", "LoginMail", "MailText", "login_mail", "pick_locale"]


@dataclass(frozen=True, slots=True)
class MailText:
    """One locale's strings; ``{minutes}`` and ``{site}`` are filled in."""

    subject: str
    greeting: str
    action: str  # the button's label
    lifetime: str
    ignore: str


LOCALES: dict[str, MailText] = {
    "en": MailText(
        subject="Your sign-in link for {site}",
        greeting="Use the link below to sign in to {site}.",
        action="Sign in",
        lifetime="The link works once and expires in {minutes} minutes.",
        ignore="If this wasn't you, ignore this mail: nobody can sign in without the link.",
    ),
    "zh": MailText(
        subject="{site} 登录链接",
        greeting="请点击下面的链接登录 {site}。",
        action="登录",
        lifetime="该链接只能使用一次，{minutes} 分钟后失效。",
        ignore="如果这不是您本人的操作，请忽略此邮件：没有该链接，任何人都无法登录。",
    ),
}
DEFAULT_LOCALE = "en"


def pick_locale(requested: str | None, accept_language: str = "") -> str:
    """``requested`` when it is a known locale, else the first known language of an
    ``Accept-Language`` header (``zh-CN,zh;q=0.9`` is ``zh``), else English."""
    candidates = [requested or ""]
    candidates += [part.split(";")[0] for part in accept_language.split(",")]
    for candidate in candidates:
        language = candidate.strip().lower().split("-")[0].split("_")[0]
        if language in LOCALES:
            return language
    return DEFAULT_LOCALE


@dataclass(frozen=True, slots=True)
class LoginMail:
    """A rendered sign-in mail: what the mailer sends."""

    to: str
    subject: str
    text: str
    html: str
    link: str


def login_mail(to: str, link: str, minutes: int, locale: str, site: str) -> LoginMail:
    """The sign-in mail for ``to`` in ``locale`` (unknown locales fall back to English)."""
    words = LOCALES.get(locale, LOCALES[DEFAULT_LOCALE])
    greeting = words.greeting.format(site=site)
    lifetime = words.lifetime.format(minutes=minutes)
    text = f"{greeting}\n\n{link}\n\n{lifetime}\n\n{words.ignore}\n"
    e = html.escape
    body = (
        f'<!doctype html><html lang="{e(locale)}"><body>'
        f"<p>{e(greeting)}</p>"
        f'<p><a href="{e(link)}">{e(words.action)}</a></p>'
        f"<p>{e(lifetime)}</p>"
        f"<p>{e(words.ignore)}</p>"
        f'<p style="color:#666;font-size:12px">{e(link)}</p>'
        "</body></html>"
    )
    return LoginMail(to, words.subject.format(site=site), text, body, link)
