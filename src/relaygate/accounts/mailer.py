"""Sending magic-link mails: one ``Mailer`` Protocol, a log implementation and SMTP.

The log mailer is the default (no SMTP host configured), so a fresh install can sign users
in without any mail set-up: the operator reads the link from the log. It also keeps the
last few links per address in a small in-memory outbox, which the operator-only route
``GET /api/v1/operator/outbox`` exposes for operators and the integration tests. The SMTP
mailer keeps no copies: its links are live secrets delivered to their owner.
"""

from __future__ import annotations

import asyncio
import logging
import smtplib
from collections import OrderedDict, deque
from dataclasses import dataclass
from email.message import EmailMessage
from typing import Protocol

__all__ = ["LogMailer", "Mailer", "SMTPConfig", "SMTPMailer", "make_mailer"]

log = logging.getLogger(__name__)

SUBJECT = "Your sign-in link"
BODY = (
    "Open this link to sign in (it works once and expires in {minutes} minutes):\n\n"
    "{link}\n\nIf you did not ask for it, ignore this mail.\n"
)


class Mailer(Protocol):
    """Delivers a sign-in link; implementations must never raise on a bad address, since
    the login route answers 200 whatever happens (it must not reveal who has an account)."""

    async def send_login_link(self, email: str, link: str, minutes: int) -> None: ...

    def recent_links(self, email: str) -> list[str]:
        """The last links sent to ``email`` that this process still holds, oldest first."""
        ...


class LogMailer:
    """Writes links to the log at WARNING and keeps a bounded outbox (see module docs)."""

    def __init__(self, max_addresses: int = 1000, per_address: int = 5) -> None:
        self._outbox: OrderedDict[str, deque[str]] = OrderedDict()
        self._max_addresses = max_addresses
        self._per_address = per_address

    async def send_login_link(self, email: str, link: str, minutes: int) -> None:
        log.warning("sign-in link for %s (valid %d min): %s", email, minutes, link)
        links = self._outbox.pop(email, None) or deque(maxlen=self._per_address)
        links.append(link)
        self._outbox[email] = links
        while len(self._outbox) > self._max_addresses:
            self._outbox.popitem(last=False)

    def recent_links(self, email: str) -> list[str]:
        return list(self._outbox.get(email, ()))


@dataclass(frozen=True, slots=True)
class SMTPConfig:
    host: str
    port: int = 587
    user: str = ""
    password: str = ""
    sender: str = "relaygate@localhost"
    starttls: bool = True
    timeout: float = 15.0


class SMTPMailer:
    """Sends through an SMTP server with the standard library, in a worker thread so the
    event loop never waits on the mail server. Failures are logged, not raised (see
    :class:`Mailer`)."""

    def __init__(self, config: SMTPConfig) -> None:
        self.config = config

    async def send_login_link(self, email: str, link: str, minutes: int) -> None:
        message = EmailMessage()
        message["From"] = self.config.sender
        message["To"] = email
        message["Subject"] = SUBJECT
        message.set_content(BODY.format(link=link, minutes=minutes))
        try:
            await asyncio.to_thread(self._deliver, message)
        except (OSError, smtplib.SMTPException) as exc:
            log.error("could not send the sign-in mail to %s: %s", email, exc)

    def _deliver(self, message: EmailMessage) -> None:
        c = self.config
        with smtplib.SMTP(c.host, c.port, timeout=c.timeout) as smtp:
            if c.starttls:
                smtp.starttls()
            if c.user:
                smtp.login(c.user, c.password)
            smtp.send_message(message)

    def recent_links(self, email: str) -> list[str]:
        return []


def make_mailer(config: SMTPConfig | None) -> Mailer:
    """SMTP when a host is configured, else the log mailer."""
    if config is None or not config.host:
        return LogMailer()
    return SMTPMailer(config)
