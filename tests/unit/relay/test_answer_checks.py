"""The checks of an upstream's answer (relay/answer_checks.py, dialects/openings.py), on
in-memory replies: a whole answer must be a JSON object; a stream's first event gets a
verdict per dialect, and the bytes read to judge it are replayed."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest

from relaygate.core.errors import UpstreamBadResponse, UpstreamTimeout
from relaygate.relay.answer_checks import first_event, whole_answer
from relaygate.relay.dialects.openings import (
    INVALID,
    VALID,
    WAIT,
    chat_opening,
    messages_opening,
    responses_opening,
)


class _Reply:
    """An upstream reply that yields ``parts`` (a float: a pause of that many seconds)."""

    status = 200
    content_type = "text/event-stream"

    def __init__(self, *parts: bytes | float) -> None:
        self.parts = parts
        self.closed = False

    async def read(self) -> bytes:
        return b"".join(p for p in self.parts if isinstance(p, bytes))

    async def chunks(self) -> AsyncIterator[bytes]:
        for part in self.parts:
            if isinstance(part, float):
                await asyncio.sleep(part)
            else:
                yield part

    def close(self) -> None:
        self.closed = True

    def header(self, name: bytes) -> bytes | None:
        return None


CHUNK = b'{"id":"c","object":"chat.completion.chunk","choices":[]}'


@pytest.mark.parametrize(
    ("data", "verdict"),
    [
        (CHUNK, VALID),
        (b'{"choices":[{"index":0,"delta":{}}],"error":null}', VALID),
        (b'{"error":{"message":"overloaded"}}', INVALID),
        (b"[DONE]", INVALID),
        (b"garbage", INVALID),
        (b'{"id":"c","choi', INVALID),
        (b"[1, 2]", INVALID),
    ],
)
def test_chat_opening(data: bytes, verdict: object) -> None:
    assert chat_opening(b"", data) is verdict


def test_messages_and_responses_openings() -> None:
    start = b'{"type":"message_start","message":{"id":"msg_1"}}'
    assert messages_opening(b"message_start", start) is VALID
    assert messages_opening(b"", start) is VALID  # data-only upstreams
    assert messages_opening(b"ping", b'{"type":"ping"}') is WAIT
    assert messages_opening(b"error", b'{"type":"error","error":{}}') is INVALID
    assert messages_opening(b"message_start", b'{"type":"message_start"}') is INVALID
    assert messages_opening(b"error", start) is INVALID  # the name and the data disagree
    created = b'{"type":"response.created","response":{"id":"resp_1"}}'
    assert responses_opening(b"response.created", created) is VALID
    assert responses_opening(b"", b'{"type":"response.output_text.delta"}') is INVALID
    assert responses_opening(b"error", b'{"type":"error","message":"x"}') is INVALID


def test_the_bytes_read_are_replayed_before_the_rest() -> None:
    parts = (b": hi\n\n", b"data: " + CHUNK[:9], CHUNK[9:] + b"\n\nda", b"ta: [DONE]\n\n")

    async def run() -> bytes:
        reply = await first_event(_Reply(*parts), chat_opening, 5)
        return b"".join([chunk async for chunk in reply.chunks()])

    assert asyncio.run(run()) == b"".join(parts)


def test_a_last_event_without_its_blank_line_is_judged_too() -> None:
    async def run() -> bytes:
        reply = await first_event(_Reply(b"data: " + CHUNK), chat_opening, 5)
        return await reply.read()

    assert asyncio.run(run()) == b"data: " + CHUNK


@pytest.mark.parametrize(
    "parts",
    [(b"data: oops\n\n",), (b"",), (b": comment only\n\n",), (b"data: {\n\n", b"data: " + CHUNK)],
    ids=["garbage", "empty", "comments", "broken-then-good"],
)
def test_a_bad_opening_closes_the_reply_and_raises(parts: tuple[bytes, ...]) -> None:
    reply = _Reply(*parts)
    with pytest.raises(UpstreamBadResponse):
        asyncio.run(first_event(reply, chat_opening, 5))
    assert reply.closed


def test_the_wait_for_the_first_event_is_bounded() -> None:
    reply = _Reply(b": waiting\n\n", 30.0, b"data: " + CHUNK + b"\n\n")
    with pytest.raises(UpstreamTimeout):
        asyncio.run(first_event(reply, chat_opening, 0.05))
    assert reply.closed


def test_a_whole_answer_must_be_a_json_object() -> None:
    assert whole_answer("chat/completions", b'{"id":"x"}') == {"id": "x"}
    assert whole_answer("audio/speech", b"ID3 mp3 bytes") is None  # media: not checked
    for body in (b"<html>", b"", b'{"id":', b"[1]", b"null", b'{"error":{"message":"x"}}'):
        with pytest.raises(UpstreamBadResponse):
            whole_answer("embeddings", body)
    failed = b'{"object":"response","status":"failed","error":{"code":"server_error"}}'
    assert whole_answer("responses", failed) is not None  # a failed Response is an answer
    assert whole_answer("chat/completions", b'{"choices":[],"error":null}') is not None
