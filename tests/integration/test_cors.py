"""Browser pages may call the relay: preflights are answered and answers carry CORS headers.

Before: a preflight ``OPTIONS /v1/chat/completions`` was a 404 and no answer named an
origin, so LobeChat's web app and extensions such as Immersive Translate could not call
Relaygate from a page.
"""

from __future__ import annotations

from collections.abc import Callable

import httpx
import pytest

from tests.harness import Gateway

PAGE = "https://chat.example.test"
EVIL = "https://evil.example.test"
SDK_HEADERS = "authorization, content-type, x-stainless-os, x-stainless-retry-count"
CHAT = {"model": "relaygate-echo", "messages": [{"role": "user", "content": "hello"}]}


def _preflight(
    gw: Gateway, path: str, origin: str = PAGE, headers: str = SDK_HEADERS
) -> httpx.Response:
    return httpx.options(
        gw.url + path,
        headers={
            "Origin": origin,
            "Access-Control-Request-Method": "POST",
            "Access-Control-Request-Headers": headers,
        },
        timeout=30,
    )


def _exposed(response: httpx.Response) -> set[str]:
    return {h.strip() for h in response.headers["access-control-expose-headers"].split(",")}


@pytest.mark.parametrize(
    "path",
    ["/v1/chat/completions", "/v1/messages", "/api/v1/ai/openai/cc-omg/v1/messages", "/v1/models"],
)
def test_relay_preflight_is_answered_for_any_origin(sqlite_gateway: Gateway, path: str) -> None:
    response = _preflight(sqlite_gateway, path)
    assert response.status_code == 204
    assert response.headers["access-control-allow-origin"] == "*"
    assert "POST" in response.headers["access-control-allow-methods"]
    assert response.headers["access-control-allow-headers"] == SDK_HEADERS
    assert int(response.headers["access-control-max-age"]) > 0
    assert "access-control-allow-credentials" not in response.headers


def test_preflight_without_header_list_allows_the_sdk_headers(sqlite_gateway: Gateway) -> None:
    response = _preflight(sqlite_gateway, "/v1/messages", headers="bad header; (x)")
    allowed = response.headers["access-control-allow-headers"]
    for name in ("authorization", "x-api-key", "anthropic-version", "anthropic-beta"):
        assert name in allowed
    assert "bad header" not in allowed


def test_private_network_preflight(sqlite_gateway: Gateway) -> None:
    """A public page calling a gateway on the LAN: Chromium asks first."""
    response = httpx.options(
        sqlite_gateway.url + "/v1/chat/completions",
        headers={
            "Origin": PAGE,
            "Access-Control-Request-Method": "POST",
            "Access-Control-Request-Private-Network": "true",
        },
        timeout=30,
    )
    assert response.headers["access-control-allow-private-network"] == "true"


def test_platform_routes_refuse_pages_by_default(sqlite_gateway: Gateway) -> None:
    response = _preflight(sqlite_gateway, "/api/v1/operator/users")
    assert response.status_code == 403
    assert "access-control-allow-origin" not in response.headers
    answer = sqlite_gateway.operator.get("/users", headers={"Origin": PAGE})
    assert answer.status_code == 200
    assert "access-control-allow-origin" not in answer.headers


def test_answer_carries_cors_headers(sqlite_gateway: Gateway) -> None:
    key = sqlite_gateway.make_user_key().key
    with sqlite_gateway.http(key) as client:
        response = client.post("/v1/chat/completions", json=CHAT, headers={"Origin": PAGE})
        plain = client.post("/v1/chat/completions", json=CHAT)
    assert response.status_code == 200
    assert response.headers["access-control-allow-origin"] == "*"
    assert {"x-request-id", "retry-after", "x-ratelimit-remaining-requests"} <= _exposed(response)
    assert {"request-id", "anthropic-ratelimit-requests-remaining"} <= _exposed(response)
    assert response.headers["x-request-id"]
    assert "access-control-allow-origin" not in plain.headers  # no page, no CORS headers


def test_streamed_answer_carries_cors_headers(sqlite_gateway: Gateway) -> None:
    key = sqlite_gateway.make_user_key().key
    with (
        sqlite_gateway.http(key) as client,
        client.stream(
            "POST", "/v1/chat/completions", json={**CHAT, "stream": True}, headers={"Origin": PAGE}
        ) as response,
    ):
        body = response.read().decode()
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/event-stream")
    assert response.headers["access-control-allow-origin"] == "*"
    assert "x-request-id" in _exposed(response)
    assert body.rstrip().endswith("data: [DONE]")


@pytest.mark.parametrize(
    ("path", "status"),
    [("/v1/chat/completions", 401), ("/v1/no-such-route", 404), ("/v1/responses/resp_x", 401)],
)
def test_error_answer_carries_cors_headers(sqlite_gateway: Gateway, path: str, status: int) -> None:
    method = "GET" if "resp_" in path else "POST"
    response = httpx.request(
        method,
        sqlite_gateway.url + path,
        json=CHAT,
        headers={"Origin": PAGE, "Authorization": "Bearer sk-wrong"},
        timeout=30,
    )
    assert response.status_code == status
    assert response.headers["access-control-allow-origin"] == "*"
    assert "x-request-id" in _exposed(response)


def test_restricted_origins(gateway_factory: Callable[..., Gateway]) -> None:
    gw = gateway_factory(cors_origins=[PAGE + "/"], cors_platform_origins=[PAGE])
    refused = _preflight(gw, "/v1/chat/completions", origin=EVIL)
    assert refused.status_code == 403
    assert "access-control-allow-origin" not in refused.headers
    allowed = _preflight(gw, "/v1/chat/completions")
    assert allowed.status_code == 204
    assert allowed.headers["access-control-allow-origin"] == PAGE
    assert "Origin" in allowed.headers["vary"]
    key = gw.make_user_key().key
    with gw.http(key) as client:
        ok = client.post("/v1/chat/completions", json=CHAT, headers={"Origin": PAGE})
        other = client.post("/v1/chat/completions", json=CHAT, headers={"Origin": EVIL})
    assert ok.headers["access-control-allow-origin"] == PAGE
    assert ok.headers["vary"] == "Origin"
    assert other.status_code == 200  # served, but the browser will not show it to the page
    assert "access-control-allow-origin" not in other.headers
    platform = _preflight(gw, "/api/v1/operator/users")
    assert platform.status_code == 204
    assert platform.headers["access-control-allow-origin"] == PAGE
