"""A 500 closes its connection properly: ``Connection: close`` on the answer, then the
server closes, so a client keeping the connection alive opens a new one for its next
request instead of sending it into a connection the server is dropping.

The failure is a real one, not a patched handler: the gateway's ``api_keys`` table is
renamed under it (a database that lost a table, as a bad restore would leave it), so
looking up a key no cache holds fails in the database on every plane.
"""

from __future__ import annotations

import secrets
import socket
import sqlite3
from collections.abc import Callable

import httpx
import pytest

from tests.harness import Gateway


@pytest.fixture
def broken_gateway(gateway_factory: Callable[..., Gateway]) -> Gateway:
    gw = gateway_factory()
    path = gw.db_url.removeprefix("sqlite:///")
    with sqlite3.connect(path) as db:
        db.execute("ALTER TABLE api_keys RENAME TO api_keys_lost")
    return gw


def _unknown_key() -> str:
    return "sk-" + secrets.token_hex(24)  # never cached: every use reaches the database


def _exchange(gw: Gateway, request: bytes) -> tuple[bytes, bytes]:
    """Send one request on a raw keep-alive connection; return the answer's head and
    whatever follows it until the server closes the connection."""
    port = int(gw.url.rsplit(":", 1)[1])
    with socket.create_connection(("127.0.0.1", port), timeout=30) as sock:
        sock.sendall(request)
        received = b""
        while chunk := sock.recv(65536):  # b"": the server closed the connection
            received += chunk
    head, _, body = received.partition(b"\r\n\r\n")
    return head, body


def _request(method: str, path: str, body: bytes = b"") -> bytes:
    lines = [
        f"{method} {path} HTTP/1.1",
        "Host: 127.0.0.1",
        "Connection: keep-alive",
        f"Authorization: Bearer {_unknown_key()}",
        "Content-Type: application/json",
        f"Content-Length: {len(body)}",
    ]
    return ("\r\n".join(lines) + "\r\n\r\n").encode() + body


@pytest.mark.parametrize(
    ("method", "path", "body", "error_field"),
    [
        ("GET", "/api/v1/operator/users", b"", b'"statusCode":500'),  # control plane
        ("GET", "/v1/conversations/conv_x", b"", b'"error":{'),  # control plane, OpenAI
        ("POST", "/v1/chat/completions", b'{"model":"m","messages":[]}', b'"error":{'),  # relay
        ("POST", "/v1/images/generations", b'{"model":"m","prompt":"x"}', b'"error":{'),  # media
    ],
)
def test_a_500_says_connection_close_and_the_server_closes(
    broken_gateway: Gateway, method: str, path: str, body: bytes, error_field: bytes
) -> None:
    head, answer = _exchange(broken_gateway, _request(method, path, body))
    status_line, *headers = head.split(b"\r\n")
    assert status_line.startswith(b"HTTP/1.1 500"), head
    assert b"connection: close" in [h.lower() for h in headers], head
    assert error_field in answer, answer  # the route's own error format
    assert b"api_keys" not in answer  # no database detail reaches the client


def test_a_keep_alive_client_goes_on_after_a_500(broken_gateway: Gateway) -> None:
    with httpx.Client(base_url=broken_gateway.url, timeout=30) as client:
        for _ in range(3):
            failed = client.get(
                "/api/v1/operator/users", headers={"Authorization": f"Bearer {_unknown_key()}"}
            )
            assert failed.status_code == 500
            assert failed.headers["connection"] == "close"
            assert client.get("/healthz").status_code == 200
            failed = client.post(
                "/v1/chat/completions",
                json={"model": "m", "messages": []},
                headers={"Authorization": f"Bearer {_unknown_key()}"},
            )
            assert failed.status_code == 500
            assert failed.headers["connection"] == "close"
            assert client.get("/healthz").status_code == 200
