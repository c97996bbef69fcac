"""Broken 200 answers fail over: a whole answer that is not JSON, a stream whose first
event is not a genuine one (garbage, HTML, truncated JSON, an error object or event).

Nothing has reached the caller when either is found, so the next channel takes the call
(DESIGN.md §2): the caller gets the second channel's answer, billed once, and the bill
row counts both attempts; the first channel's breaker hears a failure. On the last
channel the caller gets a clean 502 in its own dialect, never the upstream's bytes, and
nothing is billed. Driven with the official SDKs against real fake upstreams.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable, Iterator
from typing import Any

import anthropic
import httpx
import openai
import pytest

from tests.fakes.anthropic_upstream import Behaviour as AnthropicBehaviour
from tests.fakes.anthropic_upstream import FakeAnthropic
from tests.fakes.openai_upstream import Behaviour, FakeOpenAI
from tests.fakes.responses_upstream import FakeOpenAIResponses
from tests.harness import Gateway, IssuedKey
from tests.integration.test_failover_faults import (
    COST,
    PRICE,
    TOKENS,
    USER,
    _assert_failed_over,
    _only_record,
    _pair,
)
from tests.integration.test_money import START, charges, wallet

SECRET = "UPSTREAM-SECRET-7f3a"  # in every broken body: it must never reach the caller


@pytest.fixture
def second() -> Iterator[FakeOpenAI]:
    with FakeOpenAI() as server:
        yield server


@pytest.fixture
def gw(gateway_factory: Callable[..., Gateway]) -> Gateway:
    return gateway_factory(breaker_threshold=50)  # each failure shows as a count


# --------------------------------------------------------------- OpenAI: whole answers
NOT_JSON = {
    "html": (b"<html><body>502 Bad Gateway " + SECRET.encode() + b"</body></html>", "text/html"),
    "truncated": (b'{"id":"chatcmpl-1","object":"chat.completion","choices":[{"ind', None),
    "garbage": (SECRET.encode() + b" upstream exploded", None),
    "empty": (b"", None),
    "not-an-object": (b'["' + SECRET.encode() + b'"]', None),
    "error-object": (b'{"error":{"message":"' + SECRET.encode() + b'","type":"x"}}', None),
}


@pytest.mark.parametrize("body", NOT_JSON, ids=list(NOT_JSON))
def test_a_whole_answer_that_is_not_json_fails_over(
    gw: Gateway, fake: FakeOpenAI, second: FakeOpenAI, body: str
) -> None:
    raw, kind = NOT_JSON[body]
    fake.default = Behaviour(raw_body=raw, raw_content_type=kind)
    second.default = Behaviour(text="Whole, from the second.", **TOKENS)  # type: ignore[arg-type]
    model, broken, whole = _pair(gw, fake, second, {})
    key = gw.make_user_key()
    answer = gw.openai(key.key).chat.completions.create(model=model, messages=USER)  # type: ignore[arg-type]
    assert answer.choices[0].message.content == "Whole, from the second."
    assert len(fake.requests) == 1 and len(second.requests) == 1
    _assert_failed_over(gw, key, broken, whole["id"])


def test_embeddings_that_are_not_json_fail_over(
    gw: Gateway, fake: FakeOpenAI, second: FakeOpenAI
) -> None:
    fake.default = Behaviour(raw_body=b"<html>" + SECRET.encode(), raw_content_type="text/html")
    second.default = Behaviour(prompt_tokens=1000, embedding=[0.25, 0.5])
    model, broken, whole = _pair(gw, fake, second, {})
    key = gw.make_user_key()
    result = gw.openai(key.key).embeddings.create(model=model, input="hi", encoding_format="float")
    assert result.data[0].embedding == [0.25, 0.5]
    record = _only_record(gw, key)
    assert (record["status"], record["channel_id"], record["attempts"]) == (200, whole["id"], 2)
    assert record["amount"] == 2000  # 1000 input tokens at 2.00 per million, billed once


# ------------------------------------------------------------- OpenAI: first events
BAD_FIRST_EVENTS = {
    "garbage-line": b"data: " + SECRET.encode() + b"\n\n",
    "html": b"<!DOCTYPE html>\n<html><body>" + SECRET.encode() + b"</body></html>\n",
    "truncated-json": b'data: {"id":"chatcmpl-1","object":"chat.completion.chunk","choi',
    "error-object": b'data: {"error":{"message":"' + SECRET.encode() + b'","type":"server_error"}}'
    b"\n\n",
    "done-first": b"data: [DONE]\n\n",
    "empty": b"",
    "comments-only": b": keep-alive\n\n: still here\n\n",
}


def _stream_text(sdk: openai.OpenAI, model: str) -> str:
    chunks = sdk.chat.completions.create(model=model, messages=USER, stream=True)  # type: ignore[arg-type]
    return "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)


@pytest.mark.parametrize("first", BAD_FIRST_EVENTS, ids=list(BAD_FIRST_EVENTS))
def test_a_stream_whose_first_event_is_not_a_chunk_fails_over(
    gw: Gateway, fake: FakeOpenAI, second: FakeOpenAI, first: str
) -> None:
    fake.default = Behaviour(raw_body=BAD_FIRST_EVENTS[first])
    second.default = Behaviour(text="Streamed from the second.", **TOKENS)  # type: ignore[arg-type]
    model, broken, good = _pair(gw, fake, second, {})
    key = gw.make_user_key()
    assert _stream_text(gw.openai(key.key), model) == "Streamed from the second."
    assert len(fake.requests) == 1 and len(second.requests) == 1
    _assert_failed_over(gw, key, broken, good["id"])


def test_a_garbage_first_event_with_a_valid_stream_after_it_still_fails_over(
    gw: Gateway, fake: FakeOpenAI, second: FakeOpenAI
) -> None:
    """The first event decides: a stream that begins with garbage is not relayed even
    when genuine chunks follow (the client's SDK would have choked on the first line)."""
    chunk = {"id": "c", "object": "chat.completion.chunk", "created": 1, "model": "m"}
    chunk["choices"] = [{"index": 0, "delta": {"content": "first"}, "finish_reason": None}]
    body = b"data: garbage\n\ndata: " + json.dumps(chunk).encode() + b"\n\ndata: [DONE]\n\n"
    fake.default = Behaviour(raw_body=body)
    second.default = Behaviour(text="second", **TOKENS)  # type: ignore[arg-type]
    model, broken, good = _pair(gw, fake, second, {})
    key = gw.make_user_key()
    assert _stream_text(gw.openai(key.key), model) == "second"
    _assert_failed_over(gw, key, broken, good["id"])


def test_a_first_event_later_than_the_first_byte_timeout_fails_over(
    gw: Gateway, fake: FakeOpenAI, second: FakeOpenAI
) -> None:
    """Headers at once, then silence: the channel's ``first_byte_timeout`` covers the
    wait for the first event, so the call moves on instead of waiting for it."""
    fake.default = Behaviour(text="late", first_event_delay=30)
    second.default = Behaviour(text="On time.", **TOKENS)  # type: ignore[arg-type]
    model, slow, good = _pair(gw, fake, second, {"first_byte_timeout": 0.3})
    key = gw.make_user_key()
    assert _stream_text(gw.openai(key.key), model) == "On time."
    assert fake.wait_until(lambda: fake.requests[0].client_disconnected)
    _assert_failed_over(gw, key, slow, good["id"])


def test_a_good_stream_is_relayed_byte_for_byte_after_its_first_event_is_checked(
    gw: Gateway, fake: FakeOpenAI
) -> None:
    """The bytes read to judge the first event are replayed unchanged: a passthrough
    stream (comments, fragments of events across reads and all) still arrives as sent."""
    fake.default = Behaviour(text="one two three", fragment=7, keepalive_comments=True)
    model = f"ok-{uuid.uuid4().hex[:8]}"
    gw.add_channel(fake, models=[model])
    gw.op("PUT", f"/models/{model}", json=PRICE)
    key = gw.make_user_key()
    body = {"model": model, "messages": USER, "stream": True}
    body["stream_options"] = {"include_usage": True}
    with gw.http(key.key) as http:
        response = http.post("/v1/chat/completions", json=body)
    assert response.status_code == 200
    assert fake.requests[0].done.wait(10)
    # Relaying ends at the terminal event; the fake may not have recorded writing it (the
    # gateway hung up as soon as it came).
    done = b"data: [DONE]\n\n"
    sent = fake.requests[0].response_body + done
    assert response.content == sent[: sent.index(done) + len(done)]


# ----------------------------------------------------------- the last channel: a 502
@pytest.mark.parametrize("stream", [False, True], ids=["json", "stream"])
def test_a_broken_answer_on_the_only_channel_is_a_clean_502(
    gw: Gateway, fake: FakeOpenAI, stream: bool
) -> None:
    fake.default = Behaviour(raw_body=b"<html>" + SECRET.encode() + b"</html>\n\n")
    model = f"one-{uuid.uuid4().hex[:8]}"
    channel = gw.add_channel(fake, models=[model])
    gw.op("PUT", f"/models/{model}", json=PRICE)
    key = gw.make_user_key()
    with gw.http(key.key) as http:
        body = {"model": model, "messages": USER, "stream": stream}
        response = http.post("/v1/chat/completions", json=body)
    assert response.status_code == 502, response.text
    assert response.headers["content-type"].startswith("application/json")
    assert SECRET not in response.text and str(fake.port) not in response.text
    error = response.json()["error"]
    assert (error["type"], error["code"]) == ("upstream_error", "bad_gateway")
    _assert_unbilled(gw, key, status=502)
    health = next(r for r in gw.op("GET", "/channels/health") if r["id"] == channel["id"])
    assert health["consecutive_failures"] == 1


def test_the_sdk_sees_a_502_not_a_garbage_line(gw: Gateway, fake: FakeOpenAI) -> None:
    fake.default = Behaviour(raw_body=b"data: " + SECRET.encode() + b"\n\n")
    model = f"one-{uuid.uuid4().hex[:8]}"
    gw.add_channel(fake, models=[model])
    key = gw.make_user_key()
    with pytest.raises(openai.InternalServerError) as caught:
        _stream_text(gw.openai(key.key), model)
    assert caught.value.status_code == 502 and SECRET not in str(caught.value)


def _assert_unbilled(gw: Gateway, key: IssuedKey, status: int) -> None:
    record = _only_record(gw, key)
    assert record["status"] == status and record["error"], record
    assert SECRET not in record["error"]
    assert (record["amount"], record["free_amount"], record["package_amount"]) == (0, 0, 0)
    assert wallet(gw, key.user_id) == (START, 0)
    assert charges(gw, key.user_id) == []


# ------------------------------------------------------------------------ Anthropic
def _event(name: str, payload: dict[str, Any]) -> bytes:
    return f"event: {name}\ndata: {json.dumps(payload)}\n\n".encode()


ERROR_EVENT = _event(
    "error", {"type": "error", "error": {"type": "overloaded_error", "message": SECRET}}
)
BAD_ANTHROPIC_OPENINGS = {
    "error-event": ERROR_EVENT,
    "ping-then-error": _event("ping", {"type": "ping"}) + ERROR_EVENT,
    "garbage-line": b"data: " + SECRET.encode() + b"\n\n",
    "delta-before-start": _event(
        "content_block_delta",
        {"type": "content_block_delta", "index": 0, "delta": {"type": "text_delta", "text": "x"}},
    ),
    "html": b"<html>" + SECRET.encode() + b"</html>",
}


def _messages_text(client: anthropic.Anthropic, model: str) -> str:
    text = []
    stream = client.messages.create(model=model, max_tokens=100, messages=USER, stream=True)  # type: ignore[arg-type]
    for event in stream:
        if event.type == "content_block_delta" and event.delta.type == "text_delta":
            text.append(event.delta.text)
    return "".join(text)


@pytest.mark.parametrize("first", BAD_ANTHROPIC_OPENINGS, ids=list(BAD_ANTHROPIC_OPENINGS))
def test_an_anthropic_stream_that_opens_badly_fails_over(gw: Gateway, first: str) -> None:
    with FakeAnthropic() as broken, FakeAnthropic() as good:
        broken.default = AnthropicBehaviour(raw_body=BAD_ANTHROPIC_OPENINGS[first])
        good.default = AnthropicBehaviour(
            text="From the second.", input_tokens=1000, output_tokens=500
        )
        model, one, two = _pair(gw, broken, good, {})
        key = gw.make_user_key()
        client = anthropic.Anthropic(base_url=gw.url, api_key=key.key, max_retries=0)
        assert _messages_text(client, model) == "From the second."
        assert len(broken.requests) == 1 and len(good.requests) == 1
        _assert_failed_over(gw, key, one, two["id"])


def test_a_ping_before_message_start_is_a_good_opening(gw: Gateway) -> None:
    with FakeAnthropic() as only:
        start = {
            "type": "message_start",
            "message": {
                "id": "msg_1", "type": "message", "role": "assistant", "model": "m",
                "content": [], "stop_reason": None, "stop_sequence": None,
                "usage": {"input_tokens": 1000, "output_tokens": 1},
            },
        }  # fmt: skip
        body = b"".join(
            [
                _event("ping", {"type": "ping"}),
                _event("message_start", start),
                _event(
                    "content_block_start",
                    {
                        "type": "content_block_start",
                        "index": 0,
                        "content_block": {"type": "text", "text": ""},
                    },
                ),
                _event(
                    "content_block_delta",
                    {
                        "type": "content_block_delta",
                        "index": 0,
                        "delta": {"type": "text_delta", "text": "pinged"},
                    },
                ),
                _event("content_block_stop", {"type": "content_block_stop", "index": 0}),
                _event(
                    "message_delta",
                    {
                        "type": "message_delta",
                        "usage": {"output_tokens": 500},
                        "delta": {"stop_reason": "end_turn", "stop_sequence": None},
                    },
                ),
                _event("message_stop", {"type": "message_stop"}),
            ]
        )
        only.default = AnthropicBehaviour(raw_body=body)
        model = f"ping-{uuid.uuid4().hex[:8]}"
        gw.add_channel(only, models=[model], type="anthropic", base_url=only.url)
        gw.op("PUT", f"/models/{model}", json=PRICE)
        key = gw.make_user_key()
        client = anthropic.Anthropic(base_url=gw.url, api_key=key.key, max_retries=0)
        assert _messages_text(client, model) == "pinged"
        record = _only_record(gw, key)
        assert (record["status"], record["attempts"], record["amount"]) == (200, 1, COST)


@pytest.mark.parametrize(
    "body",
    [
        b'{"id":"msg_1","type":"mess',
        b'{"type":"error","error":{"type":"overloaded_error","message":"'
        + SECRET.encode()
        + b'"}}',
    ],
    ids=["truncated", "error-envelope"],
)
def test_anthropic_json_that_is_not_an_answer_fails_over(gw: Gateway, body: bytes) -> None:
    with FakeAnthropic() as broken, FakeAnthropic() as good:
        broken.default = AnthropicBehaviour(raw_body=body)
        good.default = AnthropicBehaviour(text="Whole.", input_tokens=1000, output_tokens=500)
        model, one, two = _pair(gw, broken, good, {})
        key = gw.make_user_key()
        client = anthropic.Anthropic(base_url=gw.url, api_key=key.key, max_retries=0)
        message = client.messages.create(model=model, max_tokens=100, messages=USER)  # type: ignore[arg-type]
        assert message.content[0].text == "Whole."  # type: ignore[union-attr]
        _assert_failed_over(gw, key, one, two["id"])


@pytest.mark.parametrize("stream", [False, True], ids=["json", "stream"])
def test_an_anthropic_caller_gets_a_clean_502_in_its_dialect(gw: Gateway, stream: bool) -> None:
    with FakeAnthropic() as only:
        only.default = AnthropicBehaviour(raw_body=ERROR_EVENT if stream else b"<html>")
        model = f"one-{uuid.uuid4().hex[:8]}"
        gw.add_channel(only, models=[model], type="anthropic", base_url=only.url)
        key = gw.make_user_key()
        body = {"model": model, "max_tokens": 10, "messages": USER, "stream": stream}
        headers = {"x-api-key": key.key, "anthropic-version": "2023-06-01"}
        response = httpx.post(f"{gw.url}/v1/messages", json=body, headers=headers)
        assert response.status_code == 502, response.text
        assert SECRET not in response.text
        assert response.json()["type"] == "error"
        assert response.json()["error"]["type"] == "api_error"
        _assert_unbilled(gw, key, status=502)


# ------------------------------------------------------------------------ Responses
def test_a_native_responses_stream_that_opens_badly_fails_over(gw: Gateway) -> None:
    with FakeOpenAIResponses() as broken, FakeOpenAIResponses() as good:
        error = {"type": "error", "code": "server_error", "message": SECRET}
        broken.default = Behaviour(raw_body=b"data: " + json.dumps(error).encode() + b"\n\n")
        good.default = Behaviour(text="Responded.", **TOKENS)  # type: ignore[arg-type]
        model = f"rs-{uuid.uuid4().hex[:8]}"
        one = gw.add_channel(broken, models=[model], priority=0, options={"responses_api": True})
        gw.add_channel(good, models=[model], priority=1, options={"responses_api": True})
        gw.op("PUT", f"/models/{model}", json=PRICE)
        key = gw.make_user_key()
        stream = gw.openai(key.key).responses.create(model=model, input="hi", stream=True)
        text = "".join(e.delta for e in stream if e.type == "response.output_text.delta")
        assert text == "Responded."
        record = _only_record(gw, key)
        assert (record["status"], record["attempts"], record["amount"]) == (200, 2, COST)
        health = next(r for r in gw.op("GET", "/channels/health") if r["id"] == one["id"])
        assert health["consecutive_failures"] == 1
