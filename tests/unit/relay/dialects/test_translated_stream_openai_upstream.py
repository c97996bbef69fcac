"""OpenAI-compatible upstreams and their quirks, relayed to an Anthropic client."""

from __future__ import annotations

from typing import Any

import orjson
import pytest

from relaygate.relay.dialects.translated_stream import StreamTranslator
from tests.unit.relay.dialects.spec_check import check_anthropic

DONE = b"data: [DONE]\n\n"


def chunk(delta: dict[str, Any] | None = None, finish: str | None = None, **extra: Any) -> bytes:
    choices = [] if delta is None else [{"index": 0, "delta": delta, "finish_reason": finish}]
    body = {"id": "chatcmpl-x1", "object": "chat.completion.chunk", "model": "up", **extra}
    return b"data: " + orjson.dumps({**body, "choices": choices}) + b"\n\n"


def usage_chunk(prompt: int, completion: int, cached: int = 0) -> bytes:
    usage = {
        "prompt_tokens": prompt,
        "completion_tokens": completion,
        "total_tokens": prompt + completion,
        "prompt_tokens_details": {"cached_tokens": cached},
    }
    return chunk(None, usage=usage)


def translate(*frames: bytes) -> tuple[StreamTranslator, list[dict[str, Any]]]:
    translator = StreamTranslator(
        "openai", "anthropic", model="claude-x", request_id="req_ab12", input_estimate=42
    )
    out = b"".join(translator.feed(frame) for frame in frames) + translator.flush()
    return translator, check_anthropic(out)


def of_type(events: list[dict[str, Any]], kind: str) -> list[dict[str, Any]]:
    return [e for e in events if e["type"] == kind]


def test_the_message_uses_the_client_model_and_an_anthropic_id() -> None:
    _, events = translate(chunk({"role": "assistant", "content": "Hi"}), chunk({}, "stop"), DONE)
    message = events[0]["message"]
    assert (message["id"], message["model"]) == ("msg_x1", "claude-x")
    # the local estimate until the upstream counts (it does so only at the end)
    assert message["usage"] == {
        "input_tokens": 42,
        "cache_creation_input_tokens": 0,
        "cache_read_input_tokens": 0,
        "output_tokens": 0,
    }
    assert events[1]["type"] == "ping"


@pytest.mark.parametrize(
    ("finish", "stop_reason"),
    [
        ("stop", "end_turn"),
        ("length", "max_tokens"),
        ("tool_calls", "tool_use"),
        ("content_filter", "refusal"),
        ("function_call", "tool_use"),
        ("something_new", "end_turn"),
    ],
)
def test_finish_reasons_map_to_stop_reasons(finish: str, stop_reason: str) -> None:
    _, events = translate(chunk({"content": "a"}), chunk({}, finish), DONE)
    assert of_type(events, "message_delta")[0]["delta"] == {
        "stop_reason": stop_reason,
        "stop_sequence": None,
    }


def test_usage_chunk_fills_message_delta_with_anthropic_input_semantics() -> None:
    translator, events = translate(
        chunk({"content": "a"}), chunk({}, "stop"), usage_chunk(1000, 20, cached=800), DONE
    )
    assert of_type(events, "message_delta")[0]["usage"] == {
        "input_tokens": 200,
        "cache_creation_input_tokens": 0,
        "cache_read_input_tokens": 800,
        "output_tokens": 20,
    }
    assert translator.usage is not None and translator.usage.prompt_tokens == 1000


def test_reasoning_field_of_openrouter_becomes_thinking_before_text() -> None:
    _, events = translate(
        chunk({"reasoning": "hmm"}),
        chunk({"reasoning": " ok", "content": "Yes"}),  # both in one delta
        chunk({}, "stop"),
        DONE,
    )
    starts = [e["content_block"] for e in of_type(events, "content_block_start")]
    assert starts == [
        {"type": "thinking", "thinking": "", "signature": ""},
        {"type": "text", "text": ""},
    ]
    deltas = [e["delta"] for e in of_type(events, "content_block_delta")]
    assert deltas == [
        {"type": "thinking_delta", "thinking": "hmm"},
        {"type": "thinking_delta", "thinking": " ok"},
        {"type": "text_delta", "text": "Yes"},
    ]
    assert not any(d["type"] == "signature_delta" for d in deltas)


def test_empty_and_null_fields_open_no_block() -> None:
    _, events = translate(
        chunk({"role": "assistant", "content": "", "reasoning_content": None, "tool_calls": []}),
        chunk({}, "stop"),
        DONE,
    )
    assert of_type(events, "content_block_start") == []


def test_tool_calls_without_index_are_told_apart_by_id() -> None:
    call = {"type": "function", "function": {"name": "f", "arguments": '{"a":1}'}}
    _, events = translate(
        chunk({"tool_calls": [{**call, "id": "c1"}, {**call, "id": "c2"}]}),
        chunk({}, "tool_calls"),
        DONE,
    )
    starts = [e["content_block"] for e in of_type(events, "content_block_start")]
    assert [(b["id"], b["name"]) for b in starts] == [("c1", "f"), ("c2", "f")]
    assert [e["index"] for e in of_type(events, "content_block_delta")] == [0, 1]


def test_calls_sharing_index_zero_are_told_apart_by_id() -> None:
    def call(call_id: str | None, arguments: str) -> dict[str, Any]:
        fragment: dict[str, Any] = {"index": 0, "function": {"arguments": arguments}}
        if call_id:
            fragment["id"] = call_id
            fragment["function"]["name"] = "f"
        return fragment

    _, events = translate(
        chunk({"tool_calls": [call("c1", "")]}),
        chunk({"tool_calls": [call(None, '{"a":')]}),
        chunk({"tool_calls": [call("c1", "1}")]}),  # the same id repeated: the same call
        chunk({"tool_calls": [call("c2", "{}")]}),
        chunk({}, "tool_calls"),
        DONE,
    )
    starts = [e["content_block"]["id"] for e in of_type(events, "content_block_start")]
    assert starts == ["c1", "c2"]
    fragments = [
        (e["index"], e["delta"]["partial_json"]) for e in of_type(events, "content_block_delta")
    ]
    assert fragments == [(0, '{"a":'), (0, "1}"), (1, "{}")]


def test_stop_after_tool_calls_is_reported_as_tool_use() -> None:
    call = {"index": 0, "id": "c1", "function": {"name": "f", "arguments": "{}"}}
    _, events = translate(chunk({"tool_calls": [call]}), chunk({}, "stop"), DONE)
    assert of_type(events, "message_delta")[0]["delta"]["stop_reason"] == "tool_use"


def test_interleaved_calls_become_blocks_one_after_the_other() -> None:
    """A server that interleaves parallel calls' fragments: Anthropic streams one block
    at a time, so the later call waits and goes out whole once the first is done."""
    first = {"index": 0, "id": "c1", "function": {"name": "f", "arguments": "{"}}
    second = {"index": 1, "id": "c2", "function": {"name": "g", "arguments": "{}"}}
    late = {"index": 0, "function": {"arguments": "}"}}
    _, events = translate(
        chunk({"tool_calls": [first]}), chunk({"tool_calls": [second, late]}), DONE
    )
    blocks: dict[int, str] = {}
    for event in of_type(events, "content_block_delta"):
        blocks[event["index"]] = blocks.get(event["index"], "") + event["delta"]["partial_json"]
    assert blocks == {0: "{}", 1: "{}"}
    starts = of_type(events, "content_block_start")
    assert [s["content_block"]["id"] for s in starts] == ["c1", "c2"]
    assert of_type(events, "message_delta")[0]["delta"]["stop_reason"] == "tool_use"


def test_parallel_calls_in_openai_order_stream_as_they_come() -> None:
    """OpenAI sends one call after the other: the second starts at its first fragment,
    once the first call's arguments are whole."""
    first = {"index": 0, "id": "c1", "function": {"name": "f", "arguments": ""}}
    second = {"index": 1, "id": "c2", "function": {"name": "g", "arguments": ""}}
    translator = StreamTranslator("openai", "anthropic", model="m", request_id="req_1")
    translator.feed(chunk({"tool_calls": [first]}))
    assert b'"partial_json":"{\\"a\\":' in translator.feed(
        chunk({"tool_calls": [{"index": 0, "function": {"arguments": '{"a":'}}]})
    )
    translator.feed(chunk({"tool_calls": [{"index": 0, "function": {"arguments": "1}"}}]}))
    assert translator.feed(chunk({"tool_calls": [second]})) == b""  # waits for a fragment
    out = translator.feed(chunk({"tool_calls": [{"index": 1, "function": {"arguments": "{"}}]}))
    assert out.index(b'"content_block_stop","index":0') < out.index(b'"id":"c2"')
    assert out.endswith(b'"index":1,"delta":{"type":"input_json_delta","partial_json":"{"}}\n\n')


def test_a_tool_call_without_id_gets_one() -> None:
    call = {"index": 0, "function": {"name": "f", "arguments": "{}"}}
    _, events = translate(chunk({"tool_calls": [call]}), chunk({}, "tool_calls"), DONE)
    assert of_type(events, "content_block_start")[0]["content_block"]["id"] == "toolu_ab12_0"


def test_text_after_a_tool_call_closes_it_and_opens_a_text_block() -> None:
    call = {"index": 0, "id": "c1", "function": {"name": "f", "arguments": "{}"}}
    _, events = translate(
        chunk({"content": "a"}), chunk({"tool_calls": [call]}), chunk({"content": "b"}), DONE
    )
    kinds = [(e["type"], e.get("index")) for e in events if e["type"].startswith("content")]
    assert kinds == [
        ("content_block_start", 0),
        ("content_block_delta", 0),
        ("content_block_stop", 0),
        ("content_block_start", 1),
        ("content_block_delta", 1),
        ("content_block_stop", 1),
        ("content_block_start", 2),
        ("content_block_delta", 2),
        ("content_block_stop", 2),
    ]


def test_refusal_text_is_relayed_as_text() -> None:
    _, events = translate(chunk({"refusal": "I can't."}), chunk({}, "stop"), DONE)
    assert of_type(events, "content_block_delta")[0]["delta"]["text"] == "I can't."


def test_only_the_first_choice_is_relayed_and_nothing_after_finish() -> None:
    other = b"data: " + orjson.dumps({"choices": [{"index": 1, "delta": {"content": "no"}}]})
    _, events = translate(
        chunk({"content": "yes"}),
        other + b"\n\n",
        chunk({}, "stop"),
        chunk({"content": "late"}),
        DONE,
    )
    texts = [e["delta"]["text"] for e in of_type(events, "content_block_delta")]
    assert texts == ["yes"]


def test_done_alone_still_makes_a_well_formed_message() -> None:
    translator, events = translate(DONE)
    assert [e["type"] for e in events] == ["message_start", "ping", "message_delta", "message_stop"]
    assert events[0]["message"]["id"] == "msg_ab12"  # from the request id
    assert translator.finished


def test_flush_without_a_finish_reason_leaves_the_stream_open() -> None:
    translator = StreamTranslator("openai", "anthropic", model="m", request_id="req_1")
    out = translator.feed(chunk({"content": "cut"}) + b'data: {"choices":[{"del')
    assert b"text_delta" in out
    assert translator.flush() == b""
    assert not translator.finished and translator.content_events == 1


def test_done_without_blank_line_at_the_end_of_the_body_finishes() -> None:
    translator = StreamTranslator("openai", "anthropic", model="m", request_id="req_1")
    translator.feed(chunk({"content": "a"}) + chunk({}, "stop") + b"data: [DONE]")
    assert not translator.finished
    assert translator.flush().endswith(b'event: message_stop\ndata: {"type":"message_stop"}\n\n')
    assert translator.finished


def test_error_given_as_a_string() -> None:
    translator, events = translate(chunk({"content": "a"}), b'data: {"error": "boom"}\n\n')
    assert events[-1] == {"type": "error", "error": {"type": "api_error", "message": "boom"}}
    assert translator.error == "boom" and translator.finished


def test_rate_limit_error_maps_to_anthropic_type() -> None:
    error = {"message": "slow down", "type": "requests", "code": "rate_limit_exceeded"}
    frame = b"data: " + orjson.dumps({"error": error}) + b"\n\n"
    _, events = translate(frame)
    assert events == [
        {"type": "error", "error": {"type": "rate_limit_error", "message": "slow down"}}
    ]


def test_the_same_dialect_on_both_sides_is_refused() -> None:
    with pytest.raises(ValueError, match="no stream translation"):
        StreamTranslator("openai", "openai", model="m", request_id="r")
