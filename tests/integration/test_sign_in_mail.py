"""Sign-in by mailed link over real HTTP, the mail delivered to a real SMTP server.

The gateway mails through ``tests/fakes/smtp.py`` (STARTTLS, AUTH); each test reads the
link out of the mail, as a person would, and signs in with it. The limits and the
answers that must not tell one address from another are checked the same way: every
answer is compared whole, and which mails went out is read from the mail server.
"""

from __future__ import annotations

import logging
import sqlite3
import threading
import time
import uuid
from collections.abc import Callable
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest

from relaygate.core.ids import hash_key
from tests.fakes.smtp import FakeSMTP, SMTPSettings
from tests.harness import Gateway

NEUTRAL = {
    "statusCode": 200,
    "message": "If the address can sign in, a link is on its way.",
    "data": None,
}


def _email() -> str:
    return f"mail-{uuid.uuid4().hex[:10]}@example.test"


def _login(gw: Gateway, email: str, **headers: str) -> httpx.Response:
    with gw.http() as http:
        return http.post("/api/v1/auth/login", json={"email": email}, headers=headers)


def _neutral(response: httpx.Response) -> None:
    assert response.status_code == 200, response.text
    assert response.json() == NEUTRAL


def _token(link: str | None) -> str:
    assert link is not None
    parts = urlsplit(link)
    assert parts.path == "/console/auth"  # the console's confirm page, which POSTs
    return parse_qs(parts.query)["token"][0]


def _verify(gw: Gateway, token: str) -> httpx.Response:
    with gw.http() as http:
        return http.post("/api/v1/auth/verify", json={"token": token})


def _tokens_for(gw: Gateway, email: str) -> int:
    """Sign-in tokens stored for ``email`` (a throttled request stores none)."""
    with sqlite3.connect(gw.db_url.removeprefix("sqlite:///")) as db:
        row = db.execute("SELECT count(*) FROM login_tokens WHERE email = ?", (email,)).fetchone()
    return int(row[0])


def _sentinel(gw: Gateway, smtp: FakeSMTP, **headers: str) -> None:
    """Ask a link for a fresh address and wait for its mail, so mails asked for earlier
    have had their turn."""
    email = _email()
    _neutral(_login(gw, email, **headers))
    smtp.wait_for(email)


def test_the_mailed_link_signs_in_once(smtp_gateway: Gateway, smtp: FakeSMTP) -> None:
    email = _email()
    _neutral(_login(smtp_gateway, email))
    mail = smtp.wait_for(email)
    assert mail.over_tls and mail.authenticated_as == "relay"
    assert mail.headers["From"] == "Relaygate <no-reply@relaygate.test>"
    assert "15 minutes" in mail.text and "wasn't you" in mail.text
    assert mail.html and "Sign in" in mail.html
    token = _token(mail.link)

    first = _verify(smtp_gateway, token)
    assert first.status_code == 200, first.text
    data = first.json()["data"]
    assert data["email"] == email and data["session_token"].startswith("rgs_")
    again = _verify(smtp_gateway, token)
    assert again.status_code == 400 and again.json()["data"] is None


def test_two_racing_posts_sign_in_once(smtp_gateway: Gateway, smtp: FakeSMTP) -> None:
    email = _email()
    _neutral(_login(smtp_gateway, email))
    token = _token(smtp.wait_for(email).link)
    statuses: list[int] = []
    start = threading.Barrier(2)

    def post() -> None:
        start.wait()
        statuses.append(_verify(smtp_gateway, token).status_code)

    threads = [threading.Thread(target=post) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(statuses) == [200, 400]


def test_an_expired_link_fails(smtp_gateway: Gateway, smtp: FakeSMTP) -> None:
    email = _email()
    _neutral(_login(smtp_gateway, email))
    token = _token(smtp.wait_for(email).link)
    with sqlite3.connect(smtp_gateway.db_url.removeprefix("sqlite:///")) as db:
        db.execute(
            "UPDATE login_tokens SET expires_at = '2000-01-01 00:00:00' WHERE token_hash = ?",
            (hash_key(token),),
        )
    response = _verify(smtp_gateway, token)
    assert response.status_code == 400
    assert "expired" in response.json()["message"]


def test_the_mail_speaks_the_callers_language(smtp_gateway: Gateway, smtp: FakeSMTP) -> None:
    email = _email()
    _neutral(_login(smtp_gateway, email, **{"Accept-Language": "zh-CN,zh;q=0.9,en;q=0.5"}))
    mail = smtp.wait_for(email)
    assert mail.subject == "Relaygate 登录链接"
    assert "15 分钟后失效" in mail.text
    assert _verify(smtp_gateway, _token(mail.link)).status_code == 200


def test_the_limit_per_address_answers_the_same(smtp_gateway: Gateway, smtp: FakeSMTP) -> None:
    """Five links a minute per mailbox; ``+tag`` variants count as the same mailbox."""
    local = f"limit-{uuid.uuid4().hex[:8]}"
    addresses = [f"{local}@example.test"] * 4 + [f"{local}+x@example.test"] * 3
    for address in addresses:
        _neutral(_login(smtp_gateway, address))
    assert _tokens_for(smtp_gateway, f"{local}@example.test") == 4
    assert _tokens_for(smtp_gateway, f"{local}+x@example.test") == 1
    _sentinel(smtp_gateway, smtp)
    assert len(smtp.to(f"{local}@example.test")) + len(smtp.to(f"{local}+x@example.test")) == 5


def test_the_limit_per_ip_answers_the_same(
    smtp: FakeSMTP, gateway_factory: Callable[..., Gateway]
) -> None:
    """Three links a minute from one client (the setting), whatever the addresses, and a
    forged ``X-Forwarded-For`` does not reset it: no proxy is trusted by default."""
    gw = gateway_factory(**SMTPSettings(smtp, {"login_per_ip_per_minute": 3}).overrides())
    emails = [_email() for _ in range(5)]
    for index, email in enumerate(emails):
        _neutral(_login(gw, email, **{"X-Forwarded-For": f"203.0.113.{index}"}))
    assert [_tokens_for(gw, e) for e in emails] == [1, 1, 1, 0, 0]
    for email in emails[:3]:
        smtp.wait_for(email)
    assert smtp.to(emails[3]) == [] and smtp.to(emails[4]) == []


def test_the_hourly_limit_per_ip(smtp: FakeSMTP, gateway_factory: Callable[..., Gateway]) -> None:
    overrides = {"login_per_ip_per_minute": 0, "login_per_ip_per_hour": 2}
    gw = gateway_factory(**SMTPSettings(smtp, overrides).overrides())
    emails = [_email() for _ in range(3)]
    for email in emails:
        _neutral(_login(gw, email))
    assert [_tokens_for(gw, e) for e in emails] == [1, 1, 0]


def test_a_disabled_account_gets_the_same_answer_and_no_mail(
    smtp_gateway: Gateway, smtp: FakeSMTP
) -> None:
    existing, disabled, new = _email(), _email(), _email()
    smtp_gateway.create_user(existing)
    user = smtp_gateway.create_user(disabled)
    smtp_gateway.op("PATCH", f"/users/{user['id']}", json={"is_disabled": True})
    answers = [_login(smtp_gateway, email) for email in (existing, disabled, new)]
    for answer in answers:
        _neutral(answer)
    assert len({a.headers["content-length"] for a in answers}) == 1
    smtp.wait_for(existing)
    smtp.wait_for(new)
    _sentinel(smtp_gateway, smtp)
    assert smtp.to(disabled) == []


def _wait_for_log(caplog: pytest.LogCaptureFixture, text: str, timeout: float = 15.0) -> str:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = [r.getMessage() for r in caplog.records if text in r.getMessage()]
        if found:
            return found[0]
        time.sleep(0.05)
    raise AssertionError(f"nothing logged with {text!r}")


def test_a_mail_server_that_is_down_is_logged_not_a_500(
    smtp_gateway: Gateway, smtp: FakeSMTP, caplog: pytest.LogCaptureFixture
) -> None:
    smtp.stop()
    email = _email()
    with caplog.at_level(logging.ERROR, logger="relaygate.accounts.mailer"):
        _neutral(_login(smtp_gateway, email))
        logged = _wait_for_log(caplog, "could not send the sign-in mail")
    assert email in logged


def test_a_refusing_mail_server_is_logged_not_a_500(
    smtp_gateway: Gateway, smtp: FakeSMTP, caplog: pytest.LogCaptureFixture
) -> None:
    smtp.refusal = "451 4.3.0 try again later"
    email = _email()
    with caplog.at_level(logging.ERROR, logger="relaygate.accounts.mailer"):
        _neutral(_login(smtp_gateway, email))
        assert "try again later" in _wait_for_log(caplog, "could not send the sign-in mail")


def test_without_smtp_the_link_goes_to_the_log_outbox(sqlite_gateway: Gateway) -> None:
    email = _email()
    _neutral(_login(sqlite_gateway, email))
    deadline = time.monotonic() + 10
    links: list[Any] = []
    while not links and time.monotonic() < deadline:
        links = sqlite_gateway.op("GET", "/outbox", params={"email": email})
        time.sleep(0.02)
    assert _verify(sqlite_gateway, _token(links[-1])).status_code == 200
