"""Streaming robustness: comments, disconnects, broken upstreams, keep-alives, no buffering."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import httpx
import openai
import pytest

from tests.fakes.openai_upstream import Behaviour, FakeOpenAI
from tests.harness import Gateway
from tests.integration.assertions import sse_data, sse_lines

USER = [{"role": "user", "content": "stream please"}]


def _setup(gw: Gateway, fake: FakeOpenAI) -> tuple[str, str]:
    ch = gw.add_channel(fake)
    return next(iter(ch["models"])), gw.make_user_key().key


def _body(model: str, **extra: Any) -> dict[str, Any]:
    return {"model": model, "messages": USER, "stream": True, **extra}


def _content(payloads: list[Any]) -> str:
    return "".join(
        c["choices"][0]["delta"].get("content") or ""
        for c in payloads
        if isinstance(c, dict) and c.get("choices")
    )


def test_upstream_sse_comments_are_forwarded(sqlite_gateway: Gateway, fake: FakeOpenAI) -> None:
    model, key = _setup(sqlite_gateway, fake)
    fake.script(model, Behaviour(text="a b c", keepalive_comments=True))
    with sqlite_gateway.http(key) as http:
        response = http.post("/v1/chat/completions", json=_body(model))
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/event-stream")
    comments = [line for line in sse_lines(response.content) if line.startswith(b":")]
    assert comments, response.content
    assert _content(sse_data(response.content)) == "a b c"


def test_stream_ends_with_done(sqlite_gateway: Gateway, fake: FakeOpenAI) -> None:
    model, key = _setup(sqlite_gateway, fake)
    with sqlite_gateway.http(key) as http:
        response = http.post("/v1/chat/completions", json=_body(model))
    assert sse_lines(response.content)[-1] == b"data: [DONE]"


def test_chunks_are_forwarded_without_buffering(sqlite_gateway: Gateway, fake: FakeOpenAI) -> None:
    """The client sees chunk 2 while the upstream is still silent before chunk 3."""
    model, key = _setup(sqlite_gateway, fake)
    fake.script(model, Behaviour(text="alpha beta gamma delta", stall_after=2, stall_seconds=3))
    seen: list[str] = []
    with (
        sqlite_gateway.http(key) as http,
        http.stream("POST", "/v1/chat/completions", json=_body(model)) as response,
    ):
        for line in response.iter_lines():
            if line.startswith("data:") and "[DONE]" not in line:
                seen.append(_content([json.loads(line[5:])]))
            if "".join(seen) == "alpha beta":
                upstream = fake.requests[-1]
                assert b"gamma" not in upstream.response_body
                break
    assert "".join(seen) == "alpha beta"


def test_client_disconnect_cancels_upstream_and_meters(gateway: Gateway, fake: FakeOpenAI) -> None:
    model, key = _setup(gateway, fake)
    fake.script(
        model,
        Behaviour(text=" ".join(f"w{i}" for i in range(200)), chunk_delay=0.02, usage_chunk=False),
    )
    received = 0
    with (
        gateway.http(key) as http,
        http.stream("POST", "/v1/chat/completions", json=_body(model)) as response,
    ):
        rid = response.headers["x-request-id"]
        for line in response.iter_lines():
            if line.startswith("data:") and '"content"' in line:
                received += 1
            if received >= 5:
                break
    upstream = fake.requests[-1]
    assert fake.wait_until(upstream.done.is_set, timeout=15)
    assert upstream.client_disconnected, "the gateway kept reading after the client left"
    assert b"w199" not in upstream.response_body
    record = gateway.wait_for_usage(rid)
    assert record["status"] == 499
    assert record["stream"] is True
    assert record["completion_tokens"] > 0
    assert record["prompt_tokens"] > 0


@pytest.mark.parametrize("abort", [False, True], ids=["close", "reset"])
def test_upstream_breaks_mid_stream(sqlite_gateway: Gateway, fake: FakeOpenAI, abort: bool) -> None:
    model, key = _setup(sqlite_gateway, fake)
    fake.script(model, Behaviour(text="one two three four five six", break_after=3, abort=abort))
    with sqlite_gateway.http(key) as http:
        response = http.post("/v1/chat/completions", json=_body(model))
    assert response.status_code == 200  # headers were already sent
    payloads = sse_data(response.content)
    assert _content(payloads).startswith("one two three")
    assert isinstance(payloads[-1], dict) and "error" in payloads[-1], response.content
    error = payloads[-1]["error"]
    assert error["message"] and str(fake.port) not in json.dumps(error)
    assert b"data: [DONE]" not in response.content
    record = sqlite_gateway.wait_for_usage(response.headers["x-request-id"])
    assert record["error"]
    assert record["status"] != 200


def test_upstream_break_raises_in_sdk(sqlite_gateway: Gateway, fake: FakeOpenAI) -> None:
    model, key = _setup(sqlite_gateway, fake)
    fake.script(model, Behaviour(text="one two three four", break_after=2))
    client = sqlite_gateway.openai(key)
    with pytest.raises(openai.APIError):
        list(client.chat.completions.create(model=model, messages=USER, stream=True))


def test_read_timeout_mid_stream_ends_with_error(
    gateway_factory: Callable[..., Gateway], fake: FakeOpenAI
) -> None:
    gw = gateway_factory(upstream_read_timeout=0.5, stream_keepalive_interval=0.1)
    model, key = _setup(gw, fake)
    fake.script(model, Behaviour(text="one two three", stall_after=1, stall_seconds=5))
    with gw.http(key) as http:
        response = http.post("/v1/chat/completions", json=_body(model))
    payloads = sse_data(response.content)
    assert "error" in payloads[-1], response.content
    record = gw.wait_for_usage(response.headers["x-request-id"])
    assert record["error"] and record["status"] != 200


def test_gateway_keepalive_during_upstream_silence(
    gateway_factory: Callable[..., Gateway], fake: FakeOpenAI
) -> None:
    gw = gateway_factory(stream_keepalive_interval=0.2)
    model, key = _setup(gw, fake)
    fake.script(model, Behaviour(text="a b c d", stall_after=2, stall_seconds=1.2))
    with gw.http(key) as http:
        response = http.post("/v1/chat/completions", json=_body(model))
    lines = sse_lines(response.content)
    kinds = [
        "comment" if line.startswith(b":") else _content(sse_data(line + b"\n")) or "other"
        for line in lines
    ]
    assert "comment" in kinds, response.content
    first_comment = kinds.index("comment")
    assert kinds.index(" b") < first_comment < kinds.index(" c"), kinds
    assert _content(sse_data(response.content)) == "a b c d"


def test_include_usage_with_upstream_that_omits_it(
    sqlite_gateway: Gateway, fake: FakeOpenAI
) -> None:
    """Upstream ignores include_usage: the record is still written (estimated)."""
    model, key = _setup(sqlite_gateway, fake)
    fake.script(model, Behaviour(text="x y z", usage_chunk=False))
    client = sqlite_gateway.openai(key)
    with client.chat.completions.with_streaming_response.create(
        model=model, messages=USER, stream=True, stream_options={"include_usage": True}
    ) as response:
        rid = response.headers["x-request-id"]
        text = "".join(c.choices[0].delta.content or "" for c in response.parse() if c.choices)
    assert text == "x y z"
    record = sqlite_gateway.wait_for_usage(rid)
    assert record["completion_tokens"] > 0
    assert record["usage_estimated"] is True


def test_client_closing_right_after_done_is_a_completed_call(
    gateway: Gateway, fake: FakeOpenAI
) -> None:
    """client-requirements 5.0 item 8: the SDK closes the socket as soon as it reads
    ``data: [DONE]``, before the chunked terminator. The call is complete: status 200 and
    the upstream's usage, not 499 with estimated tokens."""
    model, key = _setup(gateway, fake)
    fake.script(
        model,
        Behaviour(text="all of it", prompt_tokens=6, completion_tokens=3, linger_after_done=2.0),
    )
    client = gateway.openai(key)
    with client.chat.completions.with_streaming_response.create(
        model=model, messages=USER, stream=True, stream_options={"include_usage": True}
    ) as response:
        rid = response.headers["x-request-id"]
        chunks = list(response.parse())  # stops at [DONE] and closes the connection
    assert "".join(c.choices[0].delta.content or "" for c in chunks if c.choices) == "all of it"
    record = gateway.wait_for_usage(rid)
    assert record["status"] == 200, record
    assert record["error"] is None
    assert (record["prompt_tokens"], record["completion_tokens"]) == (6, 3)
    assert record["usage_estimated"] is False


UNICODE_TEXT = "Grüße aus Köln — 東京 🚀🎉 ok"


@pytest.mark.parametrize(
    "shape",
    [
        pytest.param({"fragment": 3}, id="fragmented-frames"),
        pytest.param({"crlf": True}, id="crlf-lines"),
        pytest.param({"fragment": 1, "crlf": True}, id="byte-by-byte-crlf"),
    ],
)
def test_awkward_upstream_framing(
    sqlite_gateway: Gateway, fake: FakeOpenAI, shape: dict[str, Any]
) -> None:
    """Frames split across reads (inside multi-byte characters) and CRLF line ends."""
    model, key = _setup(sqlite_gateway, fake)
    behaviour = Behaviour(text=UNICODE_TEXT, prompt_tokens=5, completion_tokens=9, **shape)
    fake.script(model, behaviour, behaviour)
    client = sqlite_gateway.openai(key)
    with client.chat.completions.with_streaming_response.create(
        model=model, messages=USER, stream=True, stream_options={"include_usage": True}
    ) as response:
        rid = response.headers["x-request-id"]
        chunks = list(response.parse())
    assert "".join(c.choices[0].delta.content or "" for c in chunks if c.choices) == UNICODE_TEXT
    assert chunks[-1].usage is not None and chunks[-1].usage.completion_tokens == 9
    record = sqlite_gateway.wait_for_usage(rid)
    assert (record["prompt_tokens"], record["completion_tokens"]) == (5, 9)
    # The client did not ask for usage here: no usage-only chunk, tokens still metered.
    with client.chat.completions.with_streaming_response.create(
        model=model, messages=USER, stream=True
    ) as response:
        rid = response.headers["x-request-id"]
        chunks = list(response.parse())
    assert all(c.choices for c in chunks)
    assert "".join(c.choices[0].delta.content or "" for c in chunks) == UNICODE_TEXT
    record = sqlite_gateway.wait_for_usage(rid)
    assert record["completion_tokens"] > 0


def test_unicode_non_stream_bytes_pass_through(sqlite_gateway: Gateway, fake: FakeOpenAI) -> None:
    model, key = _setup(sqlite_gateway, fake)
    fake.script(model, Behaviour(text=UNICODE_TEXT))
    raw = sqlite_gateway.openai(key).chat.completions.with_raw_response.create(
        model=model, messages=[{"role": "user", "content": "Ünïcödé ✓ 你好"}]
    )
    assert raw.parse().choices[0].message.content == UNICODE_TEXT
    assert raw.http_response.content == fake.requests[-1].response_body
    assert fake.requests[-1].body["messages"][0]["content"] == "Ünïcödé ✓ 你好"


@pytest.mark.parametrize("stream", [False, True])
def test_client_gone_before_upstream_answers(
    gateway: Gateway, fake: FakeOpenAI, stream: bool
) -> None:
    """The client gives up while the upstream is still thinking: the upstream call is
    cancelled and the record says 499 with nothing produced."""
    model = next(iter(gateway.add_channel(fake)["models"]))
    key = gateway.make_user_key()
    fake.script(model, Behaviour(latency=4.0))
    body = {"model": model, "messages": USER, "stream": stream}
    with pytest.raises(httpx.ReadTimeout), gateway.http(key.key) as http:
        http.post("/v1/chat/completions", json=body, timeout=httpx.Timeout(30, read=0.5))
    assert fake.wait_until(lambda: bool(fake.requests) and fake.requests[-1].done.is_set(), 15)
    assert fake.requests[-1].client_disconnected, "the upstream call outlived the client"
    records = gateway.wait_for_records(key_id=key.id)
    assert len(records) == 1, records
    assert records[0]["status"] == 499
    assert records[0]["completion_tokens"] == 0
