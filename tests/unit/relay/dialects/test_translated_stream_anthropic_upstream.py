"""Anthropic upstreams relayed to an OpenAI client, and the Anthropic encoder's blocks."""

from __future__ import annotations

from typing import Any

import orjson
import pytest

from relaygate.relay.canonical import Usage
from relaygate.relay.canonical.stream import (
    BlockStart,
    BlockStop,
    MessageDelta,
    MessageStart,
    MessageStop,
    SignatureDelta,
    ThinkingDelta,
)
from relaygate.relay.dialects.anthropic_messages.stream import AnthropicStreamEncoder
from relaygate.relay.dialects.translated_stream import StreamTranslator
from tests.unit.relay.dialects.spec_check import check_anthropic, check_openai


def event(kind: str, **fields: Any) -> bytes:
    return (
        b"event: " + kind.encode() + b"\ndata: " + orjson.dumps({"type": kind, **fields}) + b"\n\n"
    )


def start(usage: dict[str, int] | None = None) -> bytes:
    message: dict[str, Any] = {
        "id": "msg_01abc",
        "type": "message",
        "role": "assistant",
        "model": "claude-up",
        "content": [],
        "stop_reason": None,
        "stop_sequence": None,
        "usage": usage or {"input_tokens": 10, "output_tokens": 1},
    }
    return event("message_start", message=message)


def block(index: int, content_block: dict[str, Any]) -> bytes:
    return event("content_block_start", index=index, content_block=content_block)


def delta(index: int, **fields: Any) -> bytes:
    return event("content_block_delta", index=index, delta=fields)


def stop(index: int) -> bytes:
    return event("content_block_stop", index=index)


def message_delta(reason: str, usage: dict[str, Any], sequence: str | None = None) -> bytes:
    return event(
        "message_delta", delta={"stop_reason": reason, "stop_sequence": sequence}, usage=usage
    )


END = event("message_stop")


def translate(
    *frames: bytes, include_usage: bool = False
) -> tuple[StreamTranslator, list[dict[str, Any]]]:
    translator = StreamTranslator(
        "anthropic", "openai", model="gpt-x", request_id="req_9", include_usage=include_usage
    )
    out = b"".join(translator.feed(frame) for frame in frames) + translator.flush()
    return translator, check_openai(out, include_usage=include_usage)


def deltas(chunks: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [c["choices"][0]["delta"] for c in chunks if c["choices"]]


@pytest.mark.parametrize(
    ("stop_reason", "finish"),
    [
        ("end_turn", "stop"),
        ("stop_sequence", "stop"),
        ("pause_turn", "stop"),
        ("max_tokens", "length"),
        ("model_context_window_exceeded", "length"),
        ("tool_use", "tool_calls"),
        ("refusal", "content_filter"),
    ],
)
def test_stop_reasons_map_to_finish_reasons(stop_reason: str, finish: str) -> None:
    _, chunks = translate(start(), message_delta(stop_reason, {"output_tokens": 3}), END)
    assert chunks[-1]["choices"][0] == {
        "index": 0,
        "delta": {},
        "logprobs": None,
        "finish_reason": finish,
    }


def test_first_chunk_introduces_the_assistant_with_the_client_model() -> None:
    _, chunks = translate(start(), message_delta("end_turn", {"output_tokens": 1}), END)
    assert chunks[0]["choices"][0]["delta"] == {"role": "assistant", "content": ""}
    assert {c["model"] for c in chunks} == {"gpt-x"}
    assert {c["id"] for c in chunks} == {"chatcmpl-01abc"}
    assert all(isinstance(c["created"], int) for c in chunks)


def test_no_usage_chunk_unless_the_client_asked() -> None:
    _, chunks = translate(start(), message_delta("end_turn", {"output_tokens": 1}), END)
    assert all(c["choices"] for c in chunks)


def test_usage_chunk_sums_all_input_tokens() -> None:
    usage = {
        "input_tokens": 5,
        "cache_read_input_tokens": 100,
        "cache_creation_input_tokens": 20,
        "output_tokens": 1,
    }
    translator, chunks = translate(
        start(usage),
        # a proxy's stray 0 for an input count it already reported erases nothing
        message_delta("end_turn", {"output_tokens": 7, "input_tokens": 0}),
        END,
        include_usage=True,
    )
    assert chunks[-1]["usage"] == {
        "prompt_tokens": 125,
        "completion_tokens": 7,
        "total_tokens": 132,
        # cache writes where OpenRouter reports them (OpenAI has no field for them)
        "prompt_tokens_details": {"cached_tokens": 100, "cache_write_tokens": 20},
        "completion_tokens_details": {"reasoning_tokens": 0},
    }
    assert translator.usage == Usage(125, 7, cached_tokens=100, cache_write_tokens=20)


def test_thinking_token_count_beta_reports_reasoning_tokens() -> None:
    translator, _ = translate(
        start(),
        message_delta(
            "end_turn", {"output_tokens": 50, "output_tokens_details": {"thinking_tokens": 30}}
        ),
        END,
    )
    assert translator.usage is not None and translator.usage.reasoning_tokens == 30


def test_two_tool_uses_get_tool_call_indexes_zero_and_one() -> None:
    _, chunks = translate(
        start(),
        block(0, {"type": "text", "text": ""}),
        delta(0, type="text_delta", text="Two calls."),
        stop(0),
        block(1, {"type": "tool_use", "id": "toolu_a", "name": "f", "input": {}}),
        delta(1, type="input_json_delta", partial_json='{"x": 1}'),
        stop(1),
        block(2, {"type": "tool_use", "id": "toolu_b", "name": "g", "input": {}}),
        delta(2, type="input_json_delta", partial_json="{}"),
        stop(2),
        message_delta("tool_use", {"output_tokens": 9}),
        END,
    )
    calls = [d["tool_calls"][0] for d in deltas(chunks) if "tool_calls" in d]
    assert calls == [
        {
            "index": 0,
            "id": "toolu_a",
            "type": "function",
            "function": {"name": "f", "arguments": ""},
        },
        {"index": 0, "function": {"arguments": '{"x": 1}'}},
        {
            "index": 1,
            "id": "toolu_b",
            "type": "function",
            "function": {"name": "g", "arguments": ""},
        },
        {"index": 1, "function": {"arguments": "{}"}},
    ]


def test_redacted_thinking_signatures_and_citations_are_dropped() -> None:
    _, chunks = translate(
        start(),
        block(0, {"type": "redacted_thinking", "data": "EmwKAhgBEgy3va3pzix"}),
        stop(0),
        block(1, {"type": "thinking", "thinking": "", "signature": ""}),
        delta(1, type="thinking_delta", thinking="Hmm."),
        delta(1, type="signature_delta", signature="sig"),
        stop(1),
        block(2, {"type": "text", "text": ""}),
        delta(2, type="citations_delta", citation={"type": "char_location", "cited_text": "c"}),
        delta(2, type="text_delta", text="Hi"),
        stop(2),
        message_delta("end_turn", {"output_tokens": 4}),
        END,
    )
    assert deltas(chunks)[1:-1] == [{"reasoning_content": "Hmm."}, {"content": "Hi"}]


def test_ping_and_unknown_events_are_ignored() -> None:
    _, chunks = translate(
        start(),
        event("ping"),
        event("some_future_event", x=1),
        message_delta("end_turn", {"output_tokens": 1}),
        END,
    )
    assert len(chunks) == 2


def test_flush_after_message_delta_without_message_stop_closes_the_stream() -> None:
    translator = StreamTranslator("anthropic", "openai", model="m", request_id="req_1")
    translator.feed(start() + message_delta("end_turn", {"output_tokens": 2}))
    assert not translator.finished
    assert translator.flush().endswith(b"data: [DONE]\n\n")
    assert translator.finished


def test_flush_mid_answer_does_not_invent_an_ending() -> None:
    translator = StreamTranslator("anthropic", "openai", model="m", request_id="req_1")
    translator.feed(
        start() + block(0, {"type": "text", "text": ""}) + b"event: content_block_delta\n"
    )
    assert translator.flush() == b""
    assert not translator.finished


def test_message_stop_without_message_delta_still_finishes_with_stop() -> None:
    _, chunks = translate(start(), END)
    assert chunks[-1]["choices"][0]["finish_reason"] == "stop"


def test_anthropic_encoder_keeps_signatures_and_redacted_thinking() -> None:
    """Canonical thinking with a signature (as from another Anthropic-shaped source)."""
    encoder = AnthropicStreamEncoder(model="claude-x", request_id="req_1")
    out = encoder.encode(
        [
            MessageStart(
                "msg_1", "up", Usage(prompt_tokens=30, cached_tokens=10, cache_write_tokens=5)
            ),
            BlockStart(0, "redacted_thinking", data="opaque"),
            BlockStop(0),
            BlockStart(1, "thinking"),
            ThinkingDelta(1, "why"),
            SignatureDelta(1, "sig=="),
            BlockStop(1),
            MessageDelta("stop_sequence", "END", Usage(prompt_tokens=30, completion_tokens=3)),
            MessageStop(),
        ]
    )
    events = check_anthropic(out)
    assert events[0]["message"]["usage"] == {
        "input_tokens": 15,
        "cache_creation_input_tokens": 5,
        "cache_read_input_tokens": 10,
        "output_tokens": 0,
    }
    assert events[2]["content_block"] == {"type": "redacted_thinking", "data": "opaque"}
    assert events[6]["delta"] == {"type": "signature_delta", "signature": "sig=="}
    assert events[8]["delta"] == {"stop_reason": "stop_sequence", "stop_sequence": "END"}
