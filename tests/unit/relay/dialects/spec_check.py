"""Checks of a client stream against ../shared/spec: event order and required fields.

The required fields come from the spec files themselves (stream-events.json for
Anthropic, the OpenAPI schemas for OpenAI chunks), so a spec update shows up here.
"""

from __future__ import annotations

import json
from functools import cache
from pathlib import Path
from typing import Any

import orjson

SPEC = Path(__file__).resolve().parents[3] / "spec"  # checked in: tests/spec/make_subset.py


@cache
def _stream_events() -> dict[str, Any]:
    data: dict[str, Any] = json.loads((SPEC / "stream-events.json").read_text())
    return data


@cache
def _openai_schemas() -> dict[str, Any]:
    schemas: dict[str, Any] = json.loads((SPEC / "openai-schemas.json").read_text())
    return schemas


def split_events(stream: bytes) -> list[tuple[str | None, bytes]]:
    """(event name, data) of each event; every event must end with a blank line."""
    assert stream.endswith(b"\n\n"), "the stream must end on an event boundary"
    events = []
    for raw in stream[:-2].split(b"\n\n"):
        name, data = None, []
        for line in raw.split(b"\n"):
            field, _, value = line.partition(b": ")
            if field == b"event":
                name = value.decode()
            else:
                assert field == b"data", f"unexpected line {line!r}"
                data.append(value)
        events.append((name, b"\n".join(data)))
    return events


def _anthropic_fields() -> dict[str, list[str]]:
    fields = {}
    for event in _stream_events()["anthropic"]["messages_stream_events"]:
        fields[event["type"]] = [f.split("{")[0] for f in event["fields"]]
    return fields


def check_anthropic(stream: bytes) -> list[dict[str, Any]]:
    """Assert ``stream`` is a well-formed Anthropic Messages stream; return its events.

    Order (wire-formats.md §4): message_start, then blocks (start, deltas, stop) with
    consecutive indexes, then message_delta(s), then message_stop; ping anywhere; an
    error ends the stream wherever it comes.
    """
    spec = _stream_events()["anthropic"]
    fields = _anthropic_fields()
    delta_fields = {d["type"]: d["fields"] for d in spec["content_block_delta_types"]}
    events = []
    state, open_block, next_index = "start", None, 0
    for name, data in split_events(stream):
        event = orjson.loads(data)
        kind = event["type"]
        assert name == kind, "every event needs an `event:` line naming its type"
        for field in fields[kind]:
            assert field in event, f"{kind} lacks {field}"
        events.append(event)
        if kind == "ping":
            continue
        if kind == "error":
            assert event["error"]["type"] in spec["error_types"]
            assert isinstance(event["error"]["message"], str)
            state = "closed"
            continue
        assert state != "closed", f"{kind} after the end of the stream"
        if kind == "message_start":
            assert state == "start"
            message = event["message"]
            assert message["type"] == "message" and message["role"] == "assistant"
            assert message["id"].startswith("msg_")
            assert message["content"] == [] and message["stop_reason"] is None
            assert isinstance(message["usage"]["input_tokens"], int)
            assert isinstance(message["usage"]["output_tokens"], int)
            state = "blocks"
        elif kind == "content_block_start":
            assert state == "blocks" and open_block is None
            assert event["index"] == next_index, "block indexes must be consecutive"
            assert event["content_block"]["type"] in spec["response_content_block_types"]
            open_block, next_index = event["index"], next_index + 1
        elif kind == "content_block_delta":
            assert state == "blocks" and event["index"] == open_block
            delta = event["delta"]
            for field in delta_fields[delta["type"]]:
                assert isinstance(delta[field], str)
        elif kind == "content_block_stop":
            assert state == "blocks" and event["index"] == open_block
            open_block = None
        elif kind == "message_delta":
            assert state in ("blocks", "delta") and open_block is None
            assert event["delta"]["stop_reason"] in spec["stop_reasons"]
            assert "stop_sequence" in event["delta"]
            assert isinstance(event["usage"]["output_tokens"], int)
            state = "delta"
        elif kind == "message_stop":
            assert state == "delta", "message_stop needs a message_delta before it"
            state = "closed"
    assert state == "closed", "the stream must end with message_stop or error"
    return events


def check_openai(stream: bytes, *, include_usage: bool) -> list[dict[str, Any]]:
    """Assert ``stream`` is a well-formed chat completion stream; return its chunks.

    Data-only events of ``chat.completion.chunk``s with the spec's required fields,
    one finish_reason, the ``choices: []`` usage chunk last when asked for, then
    ``data: [DONE]``; or an error frame (which ends the stream without ``[DONE]``).
    """
    schemas = _openai_schemas()
    chunk_schema = schemas["CreateChatCompletionStreamResponse"]
    choice_schema = chunk_schema["properties"]["choices"]["items"]
    finish_values = choice_schema["properties"]["finish_reason"]["enum"]
    terminator = _stream_events()["openai"]["chat_completions_stream"]["terminator"]
    events = split_events(stream)
    assert all(name is None for name, _ in events), "chat streams carry no event names"
    chunks: list[dict[str, Any]] = []
    finishes = 0
    for index, (_, data) in enumerate(events):
        if b"data: " + data == terminator.encode():
            assert index == len(events) - 1, "[DONE] must be last"
            assert finishes == 1, "exactly one finish_reason before [DONE]"
            assert not include_usage or chunks[-1]["choices"] == [], "usage chunk missing"
            return chunks
        chunk = orjson.loads(data)
        if "error" in chunk:
            for field in schemas["Error"]["required"]:
                assert field in chunk["error"]
            assert index == len(events) - 1, "an error frame ends the stream"
            return chunks
        for field in chunk_schema["required"]:
            assert field in chunk, f"chunk lacks {field}"
        assert (
            chunk["object"] == _stream_events()["openai"]["chat_completions_stream"]["chunk_object"]
        )
        if chunk["choices"] == []:
            assert include_usage and index == len(events) - 2, "usage chunk only last"
            for field in schemas["CompletionUsage"]["required"]:
                assert isinstance(chunk["usage"][field], int)
        elif include_usage:  # wire-formats.md §3.1: every other chunk says usage: null
            assert "usage" in chunk and chunk["usage"] is None, "usage: null missing"
        for choice in chunk["choices"]:
            for field in choice_schema["required"]:
                assert field in choice
            if choice["finish_reason"] is not None:
                assert choice["finish_reason"] in finish_values
                finishes += 1
        chunks.append(chunk)
    raise AssertionError("the stream ended without [DONE] or an error frame")
