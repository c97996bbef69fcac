"""A native Responses upstream relayed as it is (scanner, usage), the items the gateway
stores for a request's input, and the translation entry points' contracts."""

from __future__ import annotations

from typing import Any

import pytest

from relaygate.core.errors import UpstreamBadResponse
from relaygate.relay.canonical import Usage
from relaygate.relay.dialects.openai_responses.convert import input_items, read_usage
from relaygate.relay.dialects.openai_responses.stream import ResponsesScanner
from relaygate.relay.translate_responses import (
    response_template,
    responses_reply_from,
    responses_request_to,
)
from tests.unit.relay.dialects.spec import openai_errors

from .golden import HERE, counter_ids
from .spec_check import check_responses

NATIVE = (HERE / "native_stream.sse").read_bytes()


def _scan(pieces: list[bytes]) -> tuple[bytes, ResponsesScanner]:
    scanner = ResponsesScanner()
    out = b"".join(scanner.feed(piece) for piece in pieces) + scanner.flush()
    return out, scanner


def test_the_native_fixture_is_a_spec_stream() -> None:
    events = check_responses(NATIVE)
    assert events[-1]["type"] == "response.completed"


def test_the_scanner_forwards_the_bytes_unchanged_and_meters_them() -> None:
    out, scanner = _scan([NATIVE])
    assert out == NATIVE
    assert scanner.finished and scanner.error is None
    assert scanner.usage == Usage(
        prompt_tokens=5210, completion_tokens=95, cached_tokens=4096, reasoning_tokens=64
    )
    assert scanner.content_events == 5  # 1 summary, 2 text, 2 argument deltas
    assert scanner.response is not None and scanner.response["status"] == "completed"
    assert [item["type"] for item in scanner.response["output"]] == [
        "reasoning",
        "message",
        "function_call",
    ]


def test_the_scanner_forwards_whole_events_only_however_split() -> None:
    for cut in range(0, len(NATIVE) + 1, 5):
        scanner = ResponsesScanner()
        first = scanner.feed(NATIVE[:cut])
        assert first == b"" or first.endswith(b"\n\n")
        assert first + scanner.feed(NATIVE[cut:]) + scanner.flush() == NATIVE
        assert scanner.content_events == 5 and scanner.finished


def test_the_scanner_reads_events_without_event_lines() -> None:
    bare = b"".join(line + b"\n" for line in NATIVE.split(b"\n") if not line.startswith(b"event:"))
    out, scanner = _scan([bare[i : i + 64] for i in range(0, len(bare), 64)])
    assert out == bare
    assert scanner.content_events == 5 and scanner.finished
    assert scanner.usage is not None and scanner.usage.prompt_tokens == 5210


@pytest.mark.parametrize(
    ("event", "message"),
    [
        (
            b'event: response.failed\ndata: {"type":"response.failed","sequence_number":3,'
            b'"response":{"id":"resp_1","status":"failed","error":{"code":"server_error",'
            b'"message":"boom"},"usage":{"input_tokens":7,"output_tokens":0}}}\n\n',
            "boom",
        ),
        (
            b'event: error\ndata: {"type":"error","sequence_number":3,"code":"rate_limit_exceeded",'
            b'"message":"slow down","param":null}\n\n',
            "slow down",
        ),
    ],
    ids=["response.failed", "error"],
)
def test_the_scanner_records_upstream_failures(event: bytes, message: str) -> None:
    head = NATIVE[: NATIVE.index(b"event: response.output_item.added")]
    _, scanner = _scan([head, event])
    assert scanner.finished and scanner.error == message


def test_read_usage_of_a_response_body() -> None:
    body = {
        "usage": {
            "input_tokens": 100,
            "input_tokens_details": {"cached_tokens": 40, "cache_write_tokens": 10},
            "output_tokens": 20,
            "output_tokens_details": {"reasoning_tokens": 5},
            "total_tokens": 120,
        }
    }
    assert read_usage(body) == Usage(100, 20, 40, 10, 5)
    assert read_usage({"usage": None}) is None and read_usage([]) is None


# --- stored input items -----------------------------------------------------------------


INPUT = [
    {"role": "developer", "content": "rules"},
    {
        "type": "message",
        "id": "msg_client",
        "role": "user",
        "content": [{"type": "input_text", "text": "q"}],
    },
    {"role": "assistant", "content": "earlier answer"},
    {"type": "function_call", "call_id": "c1", "name": "f", "arguments": "{}"},
    {"type": "function_call_output", "id": "fco_client", "call_id": "c1", "output": "r"},
    {"type": "item_reference", "id": "msg_old"},
]


def test_input_items_are_spelled_out_with_ids() -> None:
    items = input_items({"input": INPUT}, ids=counter_ids())
    assert items == [
        {
            "id": "msg_0001",
            "type": "message",
            "role": "developer",
            "content": [{"type": "input_text", "text": "rules"}],
        },
        {
            "id": "msg_client",
            "type": "message",
            "role": "user",
            "content": [{"type": "input_text", "text": "q"}],
        },
        {
            "id": "msg_0002",
            "type": "message",
            "role": "assistant",
            "content": [
                {"type": "output_text", "text": "earlier answer", "annotations": [], "logprobs": []}
            ],
            "status": "completed",
        },
        {
            "type": "function_call",
            "call_id": "c1",
            "name": "f",
            "arguments": "{}",
            "id": "fc_0003",
            "status": "completed",
        },
        {
            "id": "fco_client",
            "type": "function_call_output",
            "call_id": "c1",
            "output": "r",
            "status": "completed",
        },
        {"type": "item_reference", "id": "msg_old"},
    ]
    for item in items[:-1]:
        assert openai_errors(item, "ItemResource") == [], item


def test_a_string_input_is_one_stored_user_message() -> None:
    assert input_items({"input": "hi"}, ids=counter_ids()) == [
        {
            "id": "msg_0001",
            "type": "message",
            "role": "user",
            "content": [{"type": "input_text", "text": "hi"}],
        }
    ]
    assert input_items({"previous_response_id": "resp_1"}) == []


# --- entry points -----------------------------------------------------------------------


def _template() -> dict[str, Any]:
    return response_template(
        {"input": "x"},
        response_id="resp_1",
        model="m",
        created_at=1,
        previous_response_id=None,
        conversation_id=None,
    )


def test_unknown_dialects_are_programming_errors() -> None:
    with pytest.raises(ValueError):
        responses_request_to("responses", {"model": "m", "input": "x"}, [], default_max_tokens=1)
    with pytest.raises(ValueError):
        responses_reply_from("gemini", {}, response_template=_template())


def test_a_non_streamed_request_gets_no_stream_options() -> None:
    body = responses_request_to("openai", {"model": "m", "input": "x"}, [], default_max_tokens=9)
    assert body["stream"] is False and "stream_options" not in body
    anthropic = responses_request_to(
        "anthropic", {"model": "m", "input": "x"}, [], default_max_tokens=9
    )
    assert anthropic["max_tokens"] == 9


def test_an_unreadable_upstream_answer_is_a_bad_gateway() -> None:
    with pytest.raises(UpstreamBadResponse):
        responses_reply_from("openai", {"choices": []}, response_template=_template())
    with pytest.raises(UpstreamBadResponse):
        responses_reply_from("anthropic", {"content": None}, response_template=_template())


def test_a_reply_gets_real_ids() -> None:
    chat = {
        "id": "x",
        "choices": [
            {"index": 0, "message": {"role": "assistant", "content": "hi"}, "finish_reason": "stop"}
        ],
    }
    reply = responses_reply_from("openai", chat, response_template=_template())
    assert reply["status"] == "completed"
    (message,) = reply["output"]
    assert message["id"].startswith("msg_") and len(message["id"]) == len("msg_") + 48
