"""Behaviour of the Responses stream translator beyond its golden outputs: metering,
where the terminal event lands, broken upstreams, and the gateway's own failure."""

from __future__ import annotations

import pytest

from relaygate.relay.canonical.stream import (
    BlockStart,
    BlockStop,
    MessageDelta,
    MessageStart,
    MessageStop,
    SignatureDelta,
    TextDelta,
    ThinkingDelta,
    ToolArgsDelta,
)
from relaygate.relay.dialects.openai_responses.encoder import ResponsesStreamEncoder
from relaygate.relay.dialects.openai_responses.stream import ResponsesTranslator

from .golden import FIXTURES, StreamCase, counter_ids, stream_template
from .spec_check import check_responses

TOOLS = StreamCase("openai", FIXTURES / "openai_chat" / "stream_tools.sse")
THINKING = StreamCase("anthropic", FIXTURES / "anthropic_messages" / "stream_thinking_tools.sse")


def test_metering_of_an_openai_upstream() -> None:
    translator = TOOLS.translator()
    translator.feed(TOOLS.source())
    usage = translator.usage
    assert usage is not None
    assert (usage.prompt_tokens, usage.completion_tokens, usage.cached_tokens) == (1200, 41, 1024)
    assert translator.content_events == 5
    assert translator.finished and translator.error is None
    assert translator.response is not None
    assert translator.response["usage"]["input_tokens_details"]["cached_tokens"] == 1024


def test_metering_of_an_anthropic_upstream() -> None:
    translator = THINKING.translator()
    translator.feed(THINKING.source())
    usage = translator.usage
    assert usage is not None
    assert (usage.prompt_tokens, usage.completion_tokens) == (2360, 89)
    assert (usage.cached_tokens, usage.cache_write_tokens) == (2048, 300)
    assert translator.response is not None
    assert translator.response["usage"]["input_tokens"] == 2360


def test_the_terminal_event_comes_with_the_upstream_terminal_event() -> None:
    """The pipeline stops reading at ``finished``: that feed must end the client stream,
    and the items must all be finished before it (Codex reads only output_item.done)."""
    source = TOOLS.source()
    done = source.index(b"data: [DONE]")
    translator = TOOLS.translator()
    before = translator.feed(source[:done])
    assert not translator.finished and translator.response is None
    assert before.count(b"event: response.output_item.done") == 3
    last = translator.feed(source[done:])
    assert translator.finished
    assert last.startswith(b"event: response.completed\n") and last.count(b"\n\n") == 1


def test_nothing_is_relayed_after_the_end() -> None:
    translator = TOOLS.translator()
    translator.feed(TOOLS.source())
    assert translator.feed(b'data: {"choices":[{"delta":{"content":"late"}}]}\n\n') == b""
    assert translator.flush() == b""
    assert translator.fail("late") == b""


def test_an_unfinished_upstream_is_not_finished_by_flush_but_by_fail() -> None:
    source = TOOLS.source()
    translator = TOOLS.translator()
    out = translator.feed(source[: source.index(b'"finish_reason":"tool_calls"') - 200])
    assert translator.flush() == b""
    assert not translator.finished
    out += translator.fail("The upstream connection was lost.")
    events = check_responses(out)
    failed = events[-1]["response"]
    assert failed["status"] == "failed"
    assert failed["error"] == {
        "code": "server_error",
        "message": "The upstream connection was lost.",
    }
    assert translator.response == failed
    statuses = [item["status"] for item in failed["output"]]
    # the first call was open; the second, announced while the first streamed, had not
    # started (calls go out one after the other, openai_chat/stream.py)
    assert statuses == ["completed", "incomplete"]


@pytest.mark.parametrize(
    ("source", "message"),
    [
        (StreamCase("openai", FIXTURES / "openai_chat" / "stream_error.sse"), "Sorry about that!"),
        (
            StreamCase("anthropic", FIXTURES / "anthropic_messages" / "stream_error.sse"),
            "Overloaded",
        ),
    ],
    ids=["openai", "anthropic"],
)
def test_an_upstream_error_fails_the_response(source: StreamCase, message: str) -> None:
    translator = source.translator()
    out = translator.feed(source.source())
    assert translator.finished and translator.error is not None
    assert translator.error.endswith(message)
    response = check_responses(out)[-1]["response"]
    assert response["status"] == "failed" and response["error"]["message"].endswith(message)
    assert response["output"][0]["status"] == "incomplete"


def test_an_unknown_upstream_is_refused() -> None:
    with pytest.raises(ValueError, match="no Responses stream translation"):
        ResponsesTranslator("responses", response_template={})


def _encoder() -> ResponsesStreamEncoder:
    return ResponsesStreamEncoder(
        response_template=stream_template(), ids=counter_ids(), clock=lambda: 7
    )


def test_a_late_fragment_after_the_call_was_finished_is_not_relayed() -> None:
    """A fragment for a call whose item is final (text came in between) cannot change it."""
    encoder = _encoder()
    out = encoder.encode(
        [
            MessageStart("m", "x"),
            BlockStart(0, "tool_use", "call_1", "exec_command"),
            ToolArgsDelta(0, '{"cmd":"ls"}'),
            BlockStop(0),
            BlockStart(1, "text"),
            ToolArgsDelta(0, "junk"),
            TextDelta(1, "done"),
            BlockStop(1),
            MessageDelta("end_turn"),
            MessageStop(),
        ]
    )
    events = check_responses(out)
    assert b"junk" not in out
    assert events[-1]["response"]["output"][0]["arguments"] == '{"cmd":"ls"}'


def test_thinking_signature_is_carried_for_the_next_turn() -> None:
    encoder = _encoder()
    out = encoder.encode(
        [
            MessageStart("m", "x"),
            BlockStart(0, "thinking"),
            ThinkingDelta(0, "hm"),
            SignatureDelta(0, "sig-A"),
            BlockStop(0),
            MessageDelta("end_turn"),
            MessageStop(),
        ]
    )
    item = check_responses(out)[-1]["response"]["output"][0]
    assert item["type"] == "reasoning" and item["content"] == [
        {"type": "reasoning_text", "text": "hm"}
    ]
    assert item["encrypted_content"] == "relaygate.thinking.v1:sig-A"


def test_an_empty_answer_still_completes() -> None:
    encoder = _encoder()
    out = encoder.encode([MessageStart("m", "x"), MessageDelta("end_turn"), MessageStop()])
    events = check_responses(out)
    assert [e["type"] for e in events] == [
        "response.created",
        "response.in_progress",
        "response.completed",
    ]
    assert events[-1]["response"]["output"] == [] and events[-1]["response"]["completed_at"] == 7
