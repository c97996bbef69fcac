"""Upstream failures: passed-through 4xx bodies, 502/503/504, and nothing leaks."""

from __future__ import annotations

import socket
from collections.abc import Callable
from typing import Any

import openai
import pytest

from tests.fakes.openai_upstream import Behaviour, FakeOpenAI
from tests.harness import Gateway
from tests.integration.assertions import assert_openai_error

USER = [{"role": "user", "content": "hi"}]


def _setup(gw: Gateway, fake: FakeOpenAI, **channel: Any) -> tuple[str, openai.OpenAI, str]:
    ch = gw.add_channel(fake, **channel)
    return next(iter(ch["models"])), gw.openai(gw.make_user_key().key), ch["_api_key"]


def _assert_no_leak(message: str, port: int, channel_key: str) -> None:
    assert f"127.0.0.1:{port}" not in message
    assert str(port) not in message
    assert channel_key not in message
    assert "Traceback" not in message


@pytest.mark.parametrize("status", [400, 404, 409, 413, 422])
def test_upstream_client_error_passed_through(
    sqlite_gateway: Gateway, fake: FakeOpenAI, status: int
) -> None:
    model, client, _ = _setup(sqlite_gateway, fake)
    body = {
        "error": {
            "message": f"upstream says {status}",
            "type": "invalid_request_error",
            "param": "messages",
            "code": f"fake_{status}",
        }
    }
    fake.default = Behaviour(status=status, error_body=body)
    with pytest.raises(openai.APIStatusError) as info:
        client.chat.completions.create(model=model, messages=USER)
    response = info.value.response
    assert response.status_code == status
    assert response.json() == body
    assert response.headers.get("x-request-id")


def test_upstream_400_bytes_verbatim(sqlite_gateway: Gateway, fake: FakeOpenAI) -> None:
    model, client, _ = _setup(sqlite_gateway, fake)
    body = {
        "error": {
            "message": "Invalid 'messages[0].role': 'robot'.",
            "type": "invalid_request_error",
            "param": "messages[0].role",
            "code": "invalid_value",
        }
    }
    fake.script(model, Behaviour(status=400, error_body=body))
    with pytest.raises(openai.BadRequestError) as info:
        client.chat.completions.create(model=model, messages=USER)
    assert info.value.response.content == fake.requests[-1].response_body
    assert info.value.code == "invalid_value"


def test_upstream_400_on_stream_request(sqlite_gateway: Gateway, fake: FakeOpenAI) -> None:
    model, client, _ = _setup(sqlite_gateway, fake)
    fake.script(model, Behaviour(status=400))
    with pytest.raises(openai.BadRequestError) as info:
        list(client.chat.completions.create(model=model, messages=USER, stream=True))
    assert info.value.response.json() == {
        "error": {
            "message": "fake upstream says the request is invalid",
            "type": "invalid_request_error",
            "param": None,
            "code": None,
        }
    }


@pytest.mark.parametrize("status", [500, 502, 503])
def test_upstream_5xx_becomes_502(sqlite_gateway: Gateway, fake: FakeOpenAI, status: int) -> None:
    model, client, channel_key = _setup(sqlite_gateway, fake)
    fake.default = Behaviour(status=status)
    with pytest.raises(openai.InternalServerError) as info:
        client.chat.completions.create(model=model, messages=USER)
    error = assert_openai_error(info.value.response, (502, 503))
    _assert_no_leak(info.value.response.text, fake.port, channel_key)
    assert error["message"]


@pytest.mark.parametrize("status", [401, 403])
def test_upstream_auth_failure_becomes_502(
    sqlite_gateway: Gateway, fake: FakeOpenAI, status: int
) -> None:
    """The caller's key is fine; the channel's key is not: that is the gateway's problem."""
    model, client, channel_key = _setup(sqlite_gateway, fake)
    fake.default = Behaviour(status=status)
    with pytest.raises(openai.InternalServerError) as info:
        client.chat.completions.create(model=model, messages=USER)
    assert_openai_error(info.value.response, 502)
    _assert_no_leak(info.value.response.text, fake.port, channel_key)


def test_upstream_garbage_body_is_502(sqlite_gateway: Gateway, fake: FakeOpenAI) -> None:
    model, client, channel_key = _setup(sqlite_gateway, fake)
    fake.default = Behaviour(status=500, error_body={"not": "the openai shape"})
    with pytest.raises(openai.InternalServerError) as info:
        client.chat.completions.create(model=model, messages=USER)
    assert_openai_error(info.value.response, 502)
    _assert_no_leak(info.value.response.text, fake.port, channel_key)


def _closed_port() -> int:
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port = int(sock.getsockname()[1])
    sock.close()
    return port


@pytest.mark.parametrize("stream", [False, True])
def test_connection_refused(sqlite_gateway: Gateway, fake: FakeOpenAI, stream: bool) -> None:
    port = _closed_port()
    model, client, channel_key = _setup(
        sqlite_gateway, fake, base_url=f"http://127.0.0.1:{port}/v1"
    )
    with pytest.raises(openai.InternalServerError) as info:
        result = client.chat.completions.create(model=model, messages=USER, stream=stream)
        if stream:
            list(result)  # type: ignore[arg-type]
    assert_openai_error(info.value.response, (502, 503))
    _assert_no_leak(info.value.response.text, port, channel_key)


@pytest.mark.parametrize("stream", [False, True])
def test_upstream_slower_than_read_timeout_is_504(
    gateway_factory: Callable[..., Gateway], fake: FakeOpenAI, stream: bool
) -> None:
    gw = gateway_factory(upstream_read_timeout=0.5)
    model, client, channel_key = _setup(gw, fake)
    fake.default = Behaviour(latency=5.0)
    with pytest.raises(openai.InternalServerError) as info:
        result = client.chat.completions.create(model=model, messages=USER, stream=stream)
        if stream:
            list(result)  # type: ignore[arg-type]
    assert_openai_error(info.value.response, 504, "upstream_timeout")
    _assert_no_leak(info.value.response.text, fake.port, channel_key)
    record = gw.wait_for_usage(info.value.response.headers["x-request-id"])
    assert record["status"] == 504 and record["error"]


def test_failover_to_second_channel_before_first_byte(
    sqlite_gateway: Gateway, fake: FakeOpenAI
) -> None:
    """Two channels serve one model; the preferred one (lowest priority) fails with 500.

    DESIGN.md section 2 step 6: fail over on 5xx before the first byte reaches the client.
    """
    model = f"shared-{fake.port}"
    with FakeOpenAI() as backup:
        sqlite_gateway.add_channel(fake, models=[model], priority=0)
        sqlite_gateway.add_channel(backup, models=[model], priority=10)
        fake.default = Behaviour(status=500)
        backup.default = Behaviour(text="from the backup")
        client = sqlite_gateway.openai(sqlite_gateway.make_user_key().key)
        reply = client.chat.completions.create(model=model, messages=USER)
    assert reply.choices[0].message.content == "from the backup"
    assert fake.requests, "the preferred channel was not tried first"


def test_upstream_retry_after_reaches_the_caller(gateway: Gateway, fake: FakeOpenAI) -> None:
    """An upstream 429's back-off hint is the caller's too, passed through or translated."""
    model, _, _ = _setup(gateway, fake)
    key = gateway.make_user_key().key
    fake.script(model, Behaviour(status=429, headers={"Retry-After": "7"}))
    with gateway.http(key) as http:
        same = http.post("/v1/chat/completions", json={"model": model, "messages": USER})
    assert same.status_code == 429 and same.headers["retry-after"] == "7"
    fake.script(model, Behaviour(status=429, headers={"Retry-After": "9"}))
    with gateway.http(key) as http:
        crossed = http.post(
            "/v1/messages", json={"model": model, "max_tokens": 5, "messages": USER}
        )
    assert crossed.status_code == 429 and crossed.headers["retry-after"] == "9"
    assert crossed.json()["error"]["type"] == "rate_limit_error"
