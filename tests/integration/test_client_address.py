"""Behind a trusted proxy the client's address comes from its header, everywhere the
address matters (the usage record, the per-IP sign-in limit); from any other peer a
client's own proxy headers change nothing."""

from __future__ import annotations

import sqlite3
import uuid
from collections.abc import Callable

import httpx

from tests.harness import Gateway

ECHO = {"model": "relaygate-echo", "messages": [{"role": "user", "content": "hi"}]}


def _call_ip(gw: Gateway, **headers: str) -> str:
    key = gw.make_user_key().key
    with gw.http(key) as http:
        response = http.post("/v1/chat/completions", json=ECHO, headers=headers)
    assert response.status_code == 200, response.text
    return str(gw.wait_for_usage(response.headers["x-request-id"])["client_ip"])


def _login(gw: Gateway, email: str, **headers: str) -> None:
    with gw.http() as http:
        response = http.post("/api/v1/auth/login", json={"email": email}, headers=headers)
    assert response.status_code == 200, response.text


def _tokens(gw: Gateway, email: str) -> int:
    with sqlite3.connect(gw.db_url.removeprefix("sqlite:///")) as db:
        row = db.execute("SELECT count(*) FROM login_tokens WHERE email = ?", (email,)).fetchone()
    return int(row[0])


def test_a_trusted_proxys_header_names_the_client(
    gateway_factory: Callable[..., Gateway],
) -> None:
    gw = gateway_factory(
        trusted_proxies=["127.0.0.1"],
        client_ip_header="CF-Connecting-IP",
        login_per_ip_per_minute=1,
    )
    assert _call_ip(gw, **{"CF-Connecting-IP": "198.51.100.7"}) == "198.51.100.7"
    # another header than the configured one is not believed, even from the proxy
    assert _call_ip(gw, **{"X-Forwarded-For": "198.51.100.8"}) == "127.0.0.1"
    # one link a minute per client: two clients behind the proxy get one each
    emails = [f"proxy-{uuid.uuid4().hex[:8]}@example.test" for _ in range(3)]
    _login(gw, emails[0], **{"CF-Connecting-IP": "198.51.100.1"})
    _login(gw, emails[1], **{"CF-Connecting-IP": "198.51.100.2"})
    _login(gw, emails[2], **{"CF-Connecting-IP": "198.51.100.2"})
    assert [_tokens(gw, e) for e in emails] == [1, 1, 0]


def test_an_untrusted_peers_headers_are_ignored(gateway_factory: Callable[..., Gateway]) -> None:
    gw = gateway_factory(trusted_proxies=["10.0.0.0/8"], login_per_ip_per_minute=1)
    spoofed = {
        "X-Forwarded-For": "198.51.100.7",
        "CF-Connecting-IP": "198.51.100.8",
        "X-Real-IP": "198.51.100.9",
    }
    assert _call_ip(gw, **spoofed) == "127.0.0.1"
    emails = [f"spoof-{uuid.uuid4().hex[:8]}@example.test" for _ in range(2)]
    _login(gw, emails[0], **{"X-Forwarded-For": "198.51.100.1"})
    _login(gw, emails[1], **{"X-Forwarded-For": "198.51.100.2"})
    assert [_tokens(gw, e) for e in emails] == [1, 0]  # one client: the socket's


def test_the_forwarded_scheme_reaches_the_pages(
    gateway_factory: Callable[..., Gateway],
) -> None:
    """``X-Forwarded-Proto: https`` from the trusted proxy: the console's pages see https."""
    gw = gateway_factory(trusted_proxies=["127.0.0.1"])
    with httpx.Client(base_url=gw.url, timeout=30) as http:
        page = http.get("/", headers={"X-Forwarded-Proto": "https"})
    assert page.status_code == 200
    assert f"https://127.0.0.1:{gw.url.rsplit(':', 1)[1]}" in page.text
