"""Malformed requests and size limits: 400, 413, 431, always in the OpenAI error shape."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import httpx
import openai
import pytest

from tests.harness import Gateway
from tests.integration.assertions import assert_openai_error

ECHO = "relaygate-echo"
USER = [{"role": "user", "content": "hi"}]


def _post(gw: Gateway, path: str, content: bytes, key: str | None = None) -> httpx.Response:
    key = key or gw.make_user_key().key
    with gw.http(key) as http:
        return http.post(path, content=content, headers={"Content-Type": "application/json"})


@pytest.mark.parametrize(
    "body",
    [
        pytest.param(b'{"model": "relaygate-echo", "messages": [', id="truncated-json"),
        pytest.param(b"not json at all", id="not-json"),
        pytest.param(b"", id="empty-body"),
        pytest.param(b'[{"model": "relaygate-echo"}]', id="json-array"),
        pytest.param(b'"a string"', id="json-string"),
        pytest.param(b'{"messages": [{"role": "user", "content": "x"}]}', id="missing-model"),
        pytest.param(b'{"model": 42, "messages": []}', id="model-not-string"),
        pytest.param(b'{"model": "relaygate-echo"}', id="missing-messages"),
        pytest.param(b'{"model": "relaygate-echo", "messages": "hello"}', id="messages-string"),
        pytest.param(b'{"model": "relaygate-echo", "messages": {"a": 1}}', id="messages-object"),
        pytest.param(b'{"model":"relaygate-echo","messages":[],"stream":"yes"}', id="stream-str"),
    ],
)
def test_chat_bad_request(sqlite_gateway: Gateway, body: bytes) -> None:
    response = _post(sqlite_gateway, "/v1/chat/completions", body)
    error = assert_openai_error(response, 400)
    assert error["type"] == "invalid_request_error"


@pytest.mark.parametrize(
    ("path", "body"),
    [
        ("/v1/completions", b'{"model": "relaygate-echo"}'),
        ("/v1/completions", b"{oops"),
        ("/v1/embeddings", b'{"model": "relaygate-echo"}'),
        ("/v1/embeddings", b'{"input": "x"}'),
        ("/v1/embeddings", b"[]"),
    ],
)
def test_other_endpoints_bad_request(sqlite_gateway: Gateway, path: str, body: bytes) -> None:
    response = _post(sqlite_gateway, path, body)
    assert_openai_error(response, 400)


def test_bad_request_via_sdk(sqlite_gateway: Gateway) -> None:
    client = sqlite_gateway.openai(sqlite_gateway.make_user_key().key)
    with pytest.raises(openai.BadRequestError) as info:
        client.chat.completions.create(model=ECHO, messages="hello")  # type: ignore[arg-type]
    assert_openai_error(info.value.response, 400)


def test_body_over_limit_is_413(gateway_factory: Callable[..., Gateway]) -> None:
    gw = gateway_factory(max_body_bytes=4096)
    client = gw.openai(gw.make_user_key().key)
    small = client.chat.completions.create(model=ECHO, messages=USER)
    assert small.choices[0].message.content
    big = [{"role": "user", "content": "x" * 10_000}]
    with pytest.raises(openai.APIStatusError) as info:
        client.chat.completions.create(model=ECHO, messages=big)  # type: ignore[arg-type]
    assert_openai_error(info.value.response, 413)


def test_chunked_body_over_limit_is_413(gateway_factory: Callable[..., Gateway]) -> None:
    """A body without Content-Length (chunked) is still limited."""
    gw = gateway_factory(max_body_bytes=4096)
    key = gw.make_user_key().key

    def chunks() -> Any:
        yield b'{"model": "relaygate-echo", "messages": [{"role": "user", "content": "'
        for _ in range(20):
            yield b"y" * 1000
        yield b'"}]}'

    with gw.http(key) as http:
        response = http.post(
            "/v1/chat/completions", content=chunks(), headers={"Content-Type": "application/json"}
        )
    assert_openai_error(response, 413)


def test_oversized_headers(gateway_factory: Callable[..., Gateway]) -> None:
    gw = gateway_factory(max_header_bytes=4096)
    key = gw.make_user_key().key
    with gw.http(key) as http:
        ok = http.post(
            "/v1/chat/completions",
            json={"model": ECHO, "messages": USER},
            headers={"X-Small": "s" * 100},
        )
        assert ok.status_code == 200, ok.text
        response = http.post(
            "/v1/chat/completions",
            json={"model": ECHO, "messages": USER},
            headers={"X-Padding": "p" * 8192},
        )
    assert response.status_code in (400, 431), response.text
    if response.headers.get("content-type", "").startswith("application/json"):
        assert_openai_error(response, (400, 431))


def _assert_distinct_ids(responses: list[httpx.Response]) -> None:
    ids = [r.headers.get("x-request-id") for r in responses]
    detail = [
        (r.request.method, r.request.url.path, r.status_code, i)
        for r, i in zip(responses, ids, strict=True)
    ]
    assert all(ids), detail
    assert len(set(ids)) == len(ids), detail


def test_request_id_on_relay_responses(sqlite_gateway: Gateway) -> None:
    key = sqlite_gateway.make_user_key().key
    with sqlite_gateway.http(key) as http:
        responses = [
            http.post("/v1/chat/completions", json={"model": ECHO, "messages": USER}),
            http.post("/v1/chat/completions", json={"model": "nope", "messages": USER}),
            http.post("/v1/chat/completions", content=b"{bad"),
            http.get("/v1/models"),
            http.get("/v1/models/nope"),
        ]
    with sqlite_gateway.http() as anonymous:
        responses.append(anonymous.post("/v1/chat/completions", json={"model": ECHO}))
    _assert_distinct_ids(responses)


def test_request_id_on_every_other_response(sqlite_gateway: Gateway) -> None:
    """Operator routes, docs and unknown paths carry ``x-request-id`` too."""
    with sqlite_gateway.http() as anonymous:
        responses = [
            anonymous.get("/api/v1/operator/users"),
            anonymous.get("/openapi.json"),
            anonymous.get("/no/such/path"),
        ]
    responses.append(sqlite_gateway.operator.get("/users"))
    _assert_distinct_ids(responses)


def test_query_string_is_ignored(sqlite_gateway: Gateway) -> None:
    key = sqlite_gateway.make_user_key().key
    with sqlite_gateway.http(key) as http:
        response = http.post(
            "/v1/chat/completions?beta=true", json={"model": ECHO, "messages": USER}
        )
    assert response.status_code == 200, response.text


def test_stream_flag_not_accept_header_decides(sqlite_gateway: Gateway) -> None:
    key = sqlite_gateway.make_user_key().key
    with sqlite_gateway.http(key) as http:
        plain = http.post(
            "/v1/chat/completions",
            json={"model": ECHO, "messages": USER},
            headers={"Accept": "text/event-stream"},
        )
        streamed = http.post(
            "/v1/chat/completions",
            json={"model": ECHO, "messages": USER, "stream": True},
            headers={"Accept": "application/json"},
        )
    assert plain.headers["content-type"].startswith("application/json")
    assert plain.json()["object"] == "chat.completion"
    assert streamed.headers["content-type"].startswith("text/event-stream")
    assert b"data: " in streamed.content
