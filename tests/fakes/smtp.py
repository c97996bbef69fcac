"""A real SMTP server for the tests (aiosmtpd on 127.0.0.1, a free port), keeping every mail.

Tests read a sign-in link out of the mail the way a person would, so the mail's text,
HTML and headers are checked along the way. The server offers what the gateway's mailer
can use (accounts/mailer.py ``SMTPConfig``): STARTTLS with a certificate of its own CA
(``ca_file`` is what the mailer's ``smtp_ca_file`` must point at), AUTH (PLAIN/LOGIN, only
after STARTTLS), and plain SMTP; and it can be scripted to refuse mail (``refuse``) or be
stopped (``stop``) to play a mail server that is down.

    with FakeSMTP(tls_dir=tmp_path, user="relay", password="pw") as smtp:
        ... RELAYGATE_SMTP_HOST=smtp.host, SMTP_PORT=smtp.port ...
        mail = smtp.wait_for("someone@example.test")
        mail.link  # the first http(s) link of the text part
"""

from __future__ import annotations

import datetime
import ipaddress
import re
import socket
import ssl
import threading
import time
from collections.abc import Awaitable
from dataclasses import dataclass, field
from email import message_from_bytes, policy
from email.message import EmailMessage
from pathlib import Path
from typing import Any

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, AuthResult, Envelope, LoginPassword, Session
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

__all__ = ["FakeSMTP", "Mail", "SMTPSettings"]

_LINK = re.compile(r"https?://\S+")


@dataclass(frozen=True)
class Mail:
    """One delivered mail, parsed as a mail reader would show it."""

    sender: str
    to: list[str]
    subject: str
    text: str
    html: str
    headers: dict[str, str]
    link: str | None  # the first link of the text part
    authenticated_as: str | None  # the AUTH user the client logged in as
    over_tls: bool


def _parse(envelope: Envelope, session: Session, over_tls: bool) -> Mail:
    raw = envelope.original_content or envelope.content
    assert isinstance(raw, bytes)
    message = message_from_bytes(raw, policy=policy.default)
    assert isinstance(message, EmailMessage)
    text_part = message.get_body(preferencelist=("plain",))
    html_part = message.get_body(preferencelist=("html",))
    text = text_part.get_content() if text_part is not None else ""
    found = _LINK.search(text)
    login = session.auth_data
    return Mail(
        sender=str(envelope.mail_from),
        to=list(envelope.rcpt_tos),
        subject=str(message["Subject"] or ""),
        text=text,
        html=html_part.get_content() if html_part is not None else "",
        headers={k: str(v) for k, v in message.items()},
        link=found.group(0) if found else None,
        authenticated_as=login.login.decode() if isinstance(login, LoginPassword) else None,
        over_tls=over_tls,
    )


def _self_signed(directory: Path) -> tuple[Path, Path]:
    """A certificate for 127.0.0.1 (its own CA): the mailer verifies it with ``ca_file``."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "fake smtp")])
    now = datetime.datetime.now(datetime.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(
            x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
            critical=False,
        )
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    cert_path, key_path = directory / "smtp-cert.pem", directory / "smtp-key.pem"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return cert_path, key_path


class _Handler:
    def __init__(self, server: FakeSMTP) -> None:
        self.server = server

    async def handle_DATA(  # noqa: N802 - aiosmtpd's hook name
        self, smtp: SMTP, session: Session, envelope: Envelope
    ) -> str:
        if self.server.refusal:
            return self.server.refusal
        over_tls = smtp.transport is not None and smtp.transport.get_extra_info("sslcontext")
        self.server.received(_parse(envelope, session, bool(over_tls)))
        return "250 OK"


class _Controller(Controller):
    """aiosmtpd's threaded controller on a socket bound beforehand (port 0: free)."""

    def __init__(self, sock: socket.socket, handler: Any, **kwargs: Any) -> None:
        self._sock = sock
        super().__init__(handler, hostname="127.0.0.1", port=sock.getsockname()[1], **kwargs)

    def _create_server(self) -> Awaitable[Any]:
        return self.loop.create_server(self._factory_invoker, sock=self._sock)


class FakeSMTP:
    """The server; a context manager. ``starttls`` needs ``tls_dir`` (the certificate is
    written there); ``user``/``password`` turn on AUTH (required before MAIL)."""

    def __init__(
        self,
        *,
        tls_dir: Path | None = None,
        user: str = "",
        password: str = "",
    ) -> None:
        self.host = "127.0.0.1"
        self.user, self.password = user, password
        self.ca_file: Path | None = None
        self._tls: ssl.SSLContext | None = None
        if tls_dir is not None:
            cert, key = _self_signed(tls_dir)
            self.ca_file = cert
            self._tls = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
            self._tls.load_cert_chain(cert, key)
        self.mails: list[Mail] = []
        self.refusal: str | None = None  # e.g. "451 4.3.0 try again later"
        self._lock = threading.Condition()
        sock = socket.socket()
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((self.host, 0))
        self.port = int(sock.getsockname()[1])
        self._controller = _Controller(sock, _Handler(self), **self._smtp_options())

    def _smtp_options(self) -> dict[str, Any]:
        options: dict[str, Any] = {"tls_context": self._tls, "require_starttls": bool(self._tls)}
        if self.user:
            options.update(
                authenticator=self._authenticate, auth_required=True, auth_require_tls=True
            )
        return options

    def _authenticate(
        self, server: SMTP, session: Session, envelope: Envelope, mechanism: str, data: Any
    ) -> AuthResult:
        ok = isinstance(data, LoginPassword) and (
            data.login.decode(),
            data.password.decode(),
        ) == (self.user, self.password)
        return AuthResult(success=ok, handled=False, auth_data=data if ok else None)

    # ------------------------------------------------------------ lifecycle
    def __enter__(self) -> FakeSMTP:
        self._controller.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def stop(self) -> None:
        """Stop listening: a connection is then refused (a mail server that is down)."""
        if self._controller.loop.is_running():
            self._controller.stop()

    # ------------------------------------------------------------ mails
    def received(self, mail: Mail) -> None:
        with self._lock:
            self.mails.append(mail)
            self._lock.notify_all()

    def to(self, address: str) -> list[Mail]:
        with self._lock:
            return [m for m in self.mails if address.lower() in (t.lower() for t in m.to)]

    def wait_for(self, address: str, count: int = 1, timeout: float = 10.0) -> Mail:
        """The ``count``-th mail to ``address`` (1: the first), waiting for it to arrive
        (the gateway sends after it has answered)."""
        deadline = time.monotonic() + timeout
        with self._lock:
            while len(found := self.to(address)) < count:
                left = deadline - time.monotonic()
                if left <= 0:
                    raise AssertionError(f"no mail #{count} to {address} after {timeout}s")
                self._lock.wait(left)
        return found[count - 1]


@dataclass
class SMTPSettings:
    """The gateway settings that point its mailer at a :class:`FakeSMTP`."""

    server: FakeSMTP
    extra: dict[str, Any] = field(default_factory=dict)

    def overrides(self) -> dict[str, Any]:
        s = self.server
        values: dict[str, Any] = {
            "smtp_host": s.host,
            "smtp_port": s.port,
            "smtp_from": "Relaygate <no-reply@relaygate.test>",
            "smtp_starttls": s.ca_file is not None,
            "smtp_ca_file": str(s.ca_file or ""),
            "smtp_user": s.user,
            "smtp_password": s.password or None,
        }
        return {**values, **self.extra}
