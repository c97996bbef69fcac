"""HTTP-level upstream behaviour: compression, idle keep-alive closes, truncation, big bodies."""

from __future__ import annotations

import time

import httpx
import openai
import pytest

from tests.fakes.openai_upstream import Behaviour, FakeOpenAI
from tests.harness import Gateway
from tests.integration.assertions import assert_openai_error

USER = [{"role": "user", "content": "hi"}]


def _setup(gw: Gateway, fake: FakeOpenAI) -> tuple[str, str]:
    ch = gw.add_channel(fake)
    return next(iter(ch["models"])), gw.make_user_key().key


@pytest.mark.parametrize("accept_encoding", ["gzip, deflate", "identity"])
def test_gzip_upstream_answer(
    sqlite_gateway: Gateway, fake: FakeOpenAI, accept_encoding: str
) -> None:
    """Whatever the upstream compresses, the client gets a body it can read."""
    model, key = _setup(sqlite_gateway, fake)
    fake.default = Behaviour(text="compressed " * 200, gzip=True)
    with sqlite_gateway.http(key) as http:
        response = http.post(
            "/v1/chat/completions",
            json={"model": model, "messages": USER},
            headers={"Accept-Encoding": accept_encoding},
        )
    assert response.status_code == 200, response.text
    assert response.json()["choices"][0]["message"]["content"] == "compressed " * 200
    assert response.content == fake.requests[-1].response_body
    if accept_encoding == "identity":
        assert response.headers.get("content-encoding", "identity") == "identity"


def test_upstream_closing_idle_connections(sqlite_gateway: Gateway) -> None:
    """The upstream drops idle keep-alive connections; the next calls must still work."""
    with FakeOpenAI(keepalive_timeout=0.2) as fake:
        model, key = _setup(sqlite_gateway, fake)
        client = sqlite_gateway.openai(key)
        for _ in range(3):
            client.chat.completions.create(model=model, messages=USER)
            time.sleep(0.6)  # let the upstream close the idle pooled connection
            stream = client.chat.completions.create(model=model, messages=USER, stream=True)
            assert "".join(c.choices[0].delta.content or "" for c in stream if c.choices)
            time.sleep(0.6)
        assert len(fake.requests) == 6


def test_upstream_connection_close_answers(sqlite_gateway: Gateway, fake: FakeOpenAI) -> None:
    model, key = _setup(sqlite_gateway, fake)
    fake.default = Behaviour(connection_close=True)
    client = sqlite_gateway.openai(key)
    for _ in range(5):
        reply = client.chat.completions.create(model=model, messages=USER)
        assert reply.choices[0].message.content == fake.default.text


def test_truncated_upstream_body_is_502(sqlite_gateway: Gateway, fake: FakeOpenAI) -> None:
    model, key = _setup(sqlite_gateway, fake)
    fake.default = Behaviour(truncate_body=True)
    client = sqlite_gateway.openai(key, timeout=30)
    with pytest.raises(openai.InternalServerError) as info:
        client.chat.completions.create(model=model, messages=USER)
    assert_openai_error(info.value.response, 502)
    record = sqlite_gateway.wait_for_usage(info.value.response.headers["x-request-id"])
    assert record["status"] == 502 and record["error"]


def test_large_embeddings_body_intact(sqlite_gateway: Gateway, fake: FakeOpenAI) -> None:
    model, key = _setup(sqlite_gateway, fake)
    vector = [(i % 64) / 8 - 4 for i in range(1536)]  # exact in float32
    fake.default = Behaviour(embedding=vector)
    client = sqlite_gateway.openai(key)
    inputs = [f"doc {i}" for i in range(64)]
    as_float = client.embeddings.with_raw_response.create(
        model=model, input=inputs, encoding_format="float"
    )
    assert len(as_float.http_response.content) > 500_000
    assert as_float.http_response.content == fake.requests[-1].response_body
    data = as_float.parse().data
    assert len(data) == 64
    assert data[63].embedding == [v + 63 for v in vector]
    as_b64 = client.embeddings.create(model=model, input=inputs)
    assert as_b64.data[10].embedding == [v + 10 for v in vector]


def test_large_request_body_reaches_upstream(sqlite_gateway: Gateway, fake: FakeOpenAI) -> None:
    model, key = _setup(sqlite_gateway, fake)
    big = "lorem ipsum " * 200_000  # ~2.4 MB, under the default body limit
    with sqlite_gateway.http(key) as http:
        response = http.post(
            "/v1/chat/completions",
            json={"model": model, "messages": [{"role": "user", "content": big}]},
        )
    assert response.status_code == 200, response.text[:300]
    assert fake.requests[-1].body["messages"][0]["content"] == big


def test_client_headers_not_leaked_upstream(sqlite_gateway: Gateway, fake: FakeOpenAI) -> None:
    """The user's key and cookies stay at the gateway; the upstream sees the channel key."""
    model, key = _setup(sqlite_gateway, fake)
    with httpx.Client(base_url=sqlite_gateway.url, timeout=30) as http:
        response = http.post(
            "/v1/chat/completions",
            json={"model": model, "messages": USER},
            headers={"x-api-key": key, "Cookie": "session=secret-cookie"},
        )
    assert response.status_code == 200, response.text
    upstream = fake.requests[-1]
    lowered = {k.lower(): v for k, v in upstream.headers.items()}
    assert "x-api-key" not in lowered
    assert "cookie" not in lowered
    assert key not in str(upstream.headers)
    assert lowered["authorization"].startswith("Bearer sk-channel-")
