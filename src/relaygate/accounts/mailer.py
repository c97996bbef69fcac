"""Sending sign-in mails: one ``Mailer`` Protocol, a log implementation and SMTP.

The log mailer is the default (no SMTP host configured), so a fresh install can sign users
in without any mail set-up: the operator reads the link from the log. It also keeps the
last few links per address in a small in-memory outbox, which the operator-only route
``GET /api/v1/operator/outbox`` exposes for operators and the integration tests. The SMTP
mailer keeps no copies: its links are live secrets delivered to their owner.

Neither raises: the sign-in route answers the same whatever happens to the mail, so a
broken mail server must not become a 500 nor tell a caller anything about an address.
"""

from __future__ import annotations

import asyncio
import logging
import smtplib
import ssl
from collections import OrderedDict, deque
from dataclasses import dataclass
from email.message import EmailMessage
from typing import Protocol

from relaygate.accounts.mail_text import LoginMail

__all__ = ["LogMailer", "Mailer", "SMTPConfig", "SMTPMailer", "make_mailer"]

log = logging.getLogger(__name__)


class Mailer(Protocol):
    """Delivers a rendered sign-in mail; returns whether it was handed over (for the log
    and the tests), never raises (see module docs)."""

    async def send(self, mail: LoginMail) -> bool: ...

    def recent_links(self, email: str) -> list[str]:
        """The last links sent to ``email`` that this process still holds, oldest first."""
        ...


class LogMailer:
    """Writes links to the log at WARNING and keeps a bounded outbox (see module docs)."""

    def __init__(self, max_addresses: int = 1000, per_address: int = 5) -> None:
        self._outbox: OrderedDict[str, deque[str]] = OrderedDict()
        self._max_addresses = max_addresses
        self._per_address = per_address

    async def send(self, mail: LoginMail) -> bool:
        log.warning("sign-in link for %s: %s", mail.to, mail.link)
        links = self._outbox.pop(mail.to, None) or deque(maxlen=self._per_address)
        links.append(mail.link)
        self._outbox[mail.to] = links
        while len(self._outbox) > self._max_addresses:
            self._outbox.popitem(last=False)
        return True

    def recent_links(self, email: str) -> list[str]:
        return list(self._outbox.get(email, ()))


@dataclass(frozen=True, slots=True)
class SMTPConfig:
    """How to reach the mail server. ``starttls`` upgrades the connection before any
    credentials are sent, verifying the server's certificate against the system's CAs
    (or ``ca_file``, for a server with a private CA); ``user`` empty: no AUTH."""

    host: str
    port: int = 587
    user: str = ""
    password: str = ""
    sender: str = "relaygate@localhost"
    starttls: bool = True
    timeout: float = 15.0
    ca_file: str = ""


def message_of(mail: LoginMail, sender: str) -> EmailMessage:
    """Plain text first, HTML as the alternative mail readers prefer."""
    message = EmailMessage()
    message["From"] = sender
    message["To"] = mail.to
    message["Subject"] = mail.subject
    message.set_content(mail.text)
    message.add_alternative(mail.html, subtype="html")
    return message


class SMTPMailer:
    """Sends through an SMTP server with the standard library, in a worker thread so the
    event loop never waits on the mail server. Failures are logged, not raised."""

    def __init__(self, config: SMTPConfig) -> None:
        self.config = config

    async def send(self, mail: LoginMail) -> bool:
        try:
            await asyncio.to_thread(self._deliver, message_of(mail, self.config.sender))
        except (OSError, smtplib.SMTPException) as exc:  # ssl.SSLError is an OSError
            log.error("could not send the sign-in mail to %s: %s", mail.to, exc)
            return False
        return True

    def _deliver(self, message: EmailMessage) -> None:
        c = self.config
        with smtplib.SMTP(c.host, c.port, timeout=c.timeout) as smtp:
            if c.starttls:
                smtp.starttls(context=ssl.create_default_context(cafile=c.ca_file or None))
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
