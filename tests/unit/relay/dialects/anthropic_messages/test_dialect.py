"""The Anthropic dialect's pure pieces: validation, errors, usage, count estimate, legacy."""

from __future__ import annotations

import json
from typing import Any

import orjson
import pytest

from relaygate.core import errors as core_errors
from relaygate.core.error_formats import anthropic_error_type, render_error
from relaygate.core.errors import InvalidRequest, RelaygateError
from relaygate.relay.dialects.anthropic_messages import count, legacy
from relaygate.relay.dialects.anthropic_messages.errors import stream_error_frame
from relaygate.relay.dialects.anthropic_messages.request import (
    COMPLETE,
    COUNT_TOKENS,
    MESSAGES,
    inspect,
    max_output,
)
from relaygate.relay.dialects.anthropic_messages.usage import UsageCounts, read_usage
from tests.fakes.anthropic_payloads import Behaviour, message_body, message_events, sse

OK: dict[str, Any] = {
    "model": "claude-x",
    "max_tokens": 64,
    "messages": [{"role": "user", "content": "hi"}],
}
LEGACY: dict[str, Any] = {
    "model": "claude-x",
    "prompt": "\n\nHuman: hi\n\nAssistant:",
    "max_tokens_to_sample": 9,
}


# ------------------------------------------------------------------ inspect
@pytest.mark.parametrize(
    ("endpoint", "body", "param"),
    [
        (MESSAGES, [], None),
        (MESSAGES, {**OK, "model": None}, "model"),
        (MESSAGES, {**OK, "model": 3}, "model"),
        (MESSAGES, {**OK, "model": ""}, "model"),
        (MESSAGES, {k: v for k, v in OK.items() if k != "max_tokens"}, "max_tokens"),
        (MESSAGES, {**OK, "max_tokens": 0}, "max_tokens"),
        (MESSAGES, {**OK, "max_tokens": True}, "max_tokens"),
        (MESSAGES, {**OK, "max_tokens": "64"}, "max_tokens"),
        (MESSAGES, {**OK, "messages": None}, "messages"),
        (MESSAGES, {**OK, "messages": "hi"}, "messages"),
        (MESSAGES, {**OK, "messages": []}, "messages"),
        (MESSAGES, {**OK, "messages": [5]}, "messages.0"),
        (MESSAGES, {**OK, "messages": [{"role": "user"}, {"content": "x"}]}, "messages.1.role"),
        (MESSAGES, {**OK, "stream": "yes"}, "stream"),
        (COUNT_TOKENS, {"model": "m", "messages": []}, "messages"),
        (COUNT_TOKENS, {**OK, "stream": True}, "stream"),
        (COMPLETE, {"model": "m", "max_tokens_to_sample": 5}, "prompt"),
        (COMPLETE, {**LEGACY, "prompt": ["a"]}, "prompt"),
        (COMPLETE, {"model": "m", "prompt": "p"}, "max_tokens_to_sample"),
        (COMPLETE, {**LEGACY, "max_tokens_to_sample": 1.5}, "max_tokens_to_sample"),
    ],
)
def test_bad_bodies_are_400_with_the_field_named(
    endpoint: str, body: Any, param: str | None
) -> None:
    with pytest.raises(InvalidRequest) as caught:
        inspect(endpoint, body)
    assert caught.value.status == 400
    assert caught.value.param == param
    if param is not None:
        assert caught.value.message.startswith(param + ":")


def test_what_real_clients_send_passes() -> None:
    claude_code = {
        **OK,
        "stream": True,
        "thinking": {"type": "adaptive", "display": "omitted"},
        "output_config": {"effort": "medium"},
        "metadata": {"user_id": '{"device_id":"d"}'},
        "messages": [*OK["messages"], {"role": "system", "content": [{"type": "text"}]}],
    }
    facts = inspect(MESSAGES, claude_code)
    assert (facts.model, facts.stream, facts.include_usage) == ("claude-x", True, True)


def test_count_tokens_needs_no_max_tokens_and_complete_has_its_own_fields() -> None:
    facts = inspect(COUNT_TOKENS, {"model": "m", "messages": OK["messages"]})
    assert (facts.model, facts.stream) == ("m", False)
    assert inspect(COMPLETE, {**LEGACY, "stream": True}).stream is True


def test_max_output_per_endpoint() -> None:
    assert max_output(MESSAGES, OK) == 64
    assert max_output(COMPLETE, LEGACY) == 9
    assert max_output(COUNT_TOKENS, OK) == 0
    assert max_output(MESSAGES, {"max_tokens": "x"}) == 0
    assert max_output(MESSAGES, None) == 0


# ------------------------------------------------------------------- errors
def _error_classes() -> list[type[RelaygateError]]:
    found = [getattr(core_errors, name) for name in core_errors.__all__]
    return [c for c in found if isinstance(c, type) and issubclass(c, RelaygateError)]


@pytest.mark.parametrize("cls", _error_classes(), ids=lambda c: c.__name__)
def test_every_error_renders_with_the_type_its_status_means(cls: type[RelaygateError]) -> None:
    body = json.loads(render_error("anthropic", cls("Something clean.")).body)
    assert body == {
        "type": "error",
        "error": {"type": anthropic_error_type(cls.status), "message": "Something clean."},
    }
    assert body["error"]["type"] == cls.anthropic_type  # the tree and the table agree


@pytest.mark.parametrize(
    ("status", "etype"),
    [
        (400, "invalid_request_error"),
        (401, "authentication_error"),
        (402, "billing_error"),
        (403, "permission_error"),
        (404, "not_found_error"),
        (409, "invalid_request_error"),
        (413, "request_too_large"),
        (429, "rate_limit_error"),
        (431, "invalid_request_error"),
        (500, "api_error"),
        (502, "api_error"),
        (503, "overloaded_error"),
        (504, "timeout_error"),
        (529, "overloaded_error"),
        (599, "api_error"),
    ],
)
def test_status_to_error_type(status: int, etype: str) -> None:
    assert anthropic_error_type(status) == etype


def test_request_id_and_stream_frame() -> None:
    err = core_errors.UpstreamUnavailable("The upstream could not be reached.")
    assert json.loads(render_error("anthropic", err, "req_1").body)["request_id"] == "req_1"
    frame = stream_error_frame(err)
    assert frame.startswith(b"event: error\ndata: ") and frame.endswith(b"\n\n")
    payload = json.loads(frame.split(b"data: ", 1)[1])
    assert payload["error"] == {
        "type": "overloaded_error",
        "message": "The upstream could not be reached.",
    }


# -------------------------------------------------------------------- usage
def test_read_usage_sums_all_input() -> None:
    usage = read_usage(
        {
            "usage": {
                "input_tokens": 10,
                "output_tokens": 5,
                "cache_creation_input_tokens": 100,
                "cache_read_input_tokens": 1000,
                "output_tokens_details": {"thinking_tokens": 3},
            }
        }
    )
    assert usage is not None
    assert (usage.prompt_tokens, usage.completion_tokens) == (1110, 5)
    assert (usage.cached_tokens, usage.cache_write_tokens, usage.reasoning_tokens) == (1000, 100, 3)
    assert read_usage({"usage": None}) is None and read_usage([]) is None


def test_read_usage_tolerates_nulls() -> None:
    usage = read_usage({"usage": {"input_tokens": 4, "output_tokens": 2,
                                  "cache_read_input_tokens": None}})  # fmt: skip
    assert usage is not None and (usage.prompt_tokens, usage.cached_tokens) == (4, 0)


def test_stream_usage_follows_a_real_event_sequence() -> None:
    b = Behaviour(text="a b c d", input_tokens=20, cache_read_input_tokens=5, thinking_tokens=0)
    meter = UsageCounts()
    assert meter.usage is None
    for event in message_events(b, "msg_1", "m"):
        meter.feed(event.payload)
    expected = read_usage(message_body(b, "msg_1", "m"))
    assert meter.usage == expected
    assert expected is not None and (expected.prompt_tokens, expected.completion_tokens) == (25, 4)


def test_stream_usage_keeps_the_input_when_a_delta_reports_zero() -> None:
    meter = UsageCounts()
    meter.feed({"type": "message_start", "message": {"usage": {"input_tokens": 9}}})
    meter.feed({"type": "message_delta", "usage": {"input_tokens": 0, "output_tokens": 7}})
    assert meter.usage is not None
    assert (meter.usage.prompt_tokens, meter.usage.completion_tokens) == (9, 7)


# -------------------------------------------------------------------- count
@pytest.mark.parametrize(
    ("text", "tokens"),
    [
        ("", 0),
        ("abcd", 1),
        ("abcde", 2),
        ("你好", 2),
        ("hi你好", 3),
        ("こんにちは", 5),
        ("안녕", 2),
    ],
)
def test_text_tokens(text: str, tokens: int) -> None:
    assert count.text_tokens(text) == tokens


def test_estimate_of_a_plain_message() -> None:
    body = {"messages": [{"role": "user", "content": "Hello, Claude"}]}  # 13 characters
    assert count.estimate_input_tokens(body) == count.REQUEST_TOKENS + count.MESSAGE_TOKENS + 4
    as_blocks = {
        "messages": [{"role": "user", "content": [{"type": "text", "text": "Hello, Claude"}]}]
    }
    assert count.estimate_input_tokens(as_blocks) == count.estimate_input_tokens(body)


def test_estimate_counts_system_images_documents_and_tools() -> None:
    base = {"messages": [{"role": "user", "content": "x"}]}
    plain = count.estimate_input_tokens(base)
    system = [{"type": "text", "text": "a" * 40, "cache_control": {"type": "ephemeral"}}]
    assert count.estimate_input_tokens({**base, "system": system}) == plain + 10
    assert count.estimate_input_tokens({**base, "system": "a" * 40}) == plain + 10
    image = {"type": "image", "source": {"type": "base64", "media_type": "image/png", "data": "A"}}
    pdf = {"type": "document", "source": {"type": "base64", "data": "JVBER"}}
    text_doc = {"type": "document", "source": {"type": "text", "data": "b" * 8}}
    content = [image, pdf, text_doc, {"type": "text", "text": "x"}]
    rich = count.estimate_input_tokens({"messages": [{"role": "user", "content": content}]})
    assert rich == plain + count.IMAGE_TOKENS + count.DOCUMENT_TOKENS + 2
    tool = {"name": "abcd", "description": "abcdabcd", "input_schema": {"type": "object"}}
    schema = count.text_tokens('{"type":"object"}')
    expected = plain + count.TOOLS_PROMPT_TOKENS + count.TOOL_TOKENS + 1 + 2 + schema
    assert count.estimate_input_tokens({**base, "tools": [tool]}) == expected


def test_estimate_counts_a_tool_loop() -> None:
    turn = [
        {"role": "user", "content": "weather?"},
        {"role": "assistant", "content": [
            {"type": "thinking", "thinking": "t" * 8, "signature": "s" * 400},
            {"type": "tool_use", "id": "toolu_1", "name": "get", "input": {"city": "Paris"}},
        ]},
        {"role": "user", "content": [
            {"type": "tool_result", "tool_use_id": "toolu_1", "content": "sunny" * 4},
        ]},
    ]  # fmt: skip
    tokens = count.estimate_input_tokens({"messages": turn})
    expected = (
        count.REQUEST_TOKENS
        + 3 * count.MESSAGE_TOKENS
        + 2  # "weather?"
        + 2  # thinking text; the signature is not text the model reads
        + 1
        + count.text_tokens('{"city":"Paris"}')
        + 5  # 20 characters of tool result
    )
    assert tokens == expected
    assert count.estimate_input_tokens({"messages": turn}) == tokens  # deterministic


# ------------------------------------------------------------------- legacy
def test_complete_to_messages_follows_the_migration_guide() -> None:
    prompt = (
        "You are terse.\n\nHuman: Hello there\n\nAssistant: Hi, I'm Claude.\n\n"
        "Human: Explain glycolysis.\n\nHuman: Briefly.\n\nAssistant: Glycolysis is "
    )
    body = {**LEGACY, "prompt": prompt, "stop_sequences": ["\n\nHuman:"], "temperature": 0.2}
    request = legacy.complete_to_messages({**body, "stream": True})
    assert request == {
        "model": "claude-x",
        "stop_sequences": ["\n\nHuman:"],
        "temperature": 0.2,
        "stream": True,
        "max_tokens": 9,
        "system": "You are terse.",
        "messages": [
            {"role": "user", "content": "Hello there"},
            {"role": "assistant", "content": "Hi, I'm Claude."},
            {"role": "user", "content": "Explain glycolysis.\n\nBriefly."},
            {"role": "assistant", "content": "Glycolysis is"},
        ],
    }
    assert inspect(MESSAGES, request).stream is True  # a valid Messages request


def test_complete_to_messages_edge_prompts() -> None:
    bare = legacy.complete_to_messages({**LEGACY, "prompt": "Just a question"})
    assert bare["messages"] == [{"role": "user", "content": "Just a question"}]
    assert "system" not in bare
    with pytest.raises(InvalidRequest) as caught:
        legacy.complete_to_messages({**LEGACY, "prompt": "\n\nHuman: \n\nAssistant:"})
    assert caught.value.param == "prompt"


@pytest.mark.parametrize(
    ("reason", "legacy_reason"),
    [
        ("end_turn", "stop_sequence"),
        ("stop_sequence", "stop_sequence"),
        ("tool_use", "stop_sequence"),
        ("refusal", "stop_sequence"),
        ("max_tokens", "max_tokens"),
        ("model_context_window_exceeded", "max_tokens"),
    ],
)
def test_message_to_completion(reason: str, legacy_reason: str) -> None:
    b = Behaviour(thinking="hmm", text="Hi there", tool_uses=[{"name": "t", "input": {}}])
    message = {**message_body(b, "msg_01abc", "claude-upstream"), "stop_reason": reason}
    assert legacy.message_to_completion(message, "claude-x") == {
        "type": "completion",
        "id": "compl_01abc",
        "completion": "Hi there",
        "stop_reason": legacy_reason,
        "model": "claude-x",
    }


def _stream_bytes(b: Behaviour, crlf: bool = False) -> bytes:
    raw = b"".join(sse(e) for e in message_events(b, "msg_7", "claude-upstream"))
    return raw.replace(b"\n", b"\r\n") if crlf else raw


def _frames(out: bytes) -> list[tuple[str, dict[str, Any]]]:
    frames = []
    for block in out.split(b"\n\n"):
        if block:
            event, data = block.split(b"\n")
            frames.append((event.decode()[7:], orjson.loads(data[6:])))
    return frames


@pytest.mark.parametrize("crlf", [False, True])
def test_completion_stream_from_a_messages_stream(crlf: bool) -> None:
    b = Behaviour(
        thinking="let me see",
        text="The answer is 4.",
        input_tokens=12,
        cache_read_input_tokens=3,
        stop_reason="max_tokens",
    )
    raw = _stream_bytes(b, crlf)
    stream = legacy.CompletionStream("claude-x")
    out = b"".join(stream.feed(raw[i : i + 7]) for i in range(0, len(raw), 7)) + stream.flush()
    frames = _frames(out)
    assert [name for name, _ in frames] == ["ping"] + ["completion"] * 5
    pieces = [data for name, data in frames if name == "completion"]
    assert "".join(p["completion"] for p in pieces) == "The answer is 4."
    assert [p["stop_reason"] for p in pieces] == [None] * 4 + ["max_tokens"]
    assert all(p["model"] == "claude-x" and p["id"] == "compl_7" for p in pieces)
    assert stream.finished and not stream.failed and stream.content_events == 4
    assert stream.usage is not None
    assert (stream.usage.prompt_tokens, stream.usage.completion_tokens) == (15, b.output_count())


def test_completion_stream_passes_errors_and_converts_an_unterminated_tail() -> None:
    events = message_events(Behaviour(text="one two"), "msg_1", "m")
    stream = legacy.CompletionStream("claude-x")
    head = b"".join(sse(e) for e in events[:4])  # start, ping, block start, first delta
    assert _frames(stream.feed(head))[-1][1]["completion"] == "one"
    error = {"type": "error", "error": {"type": "overloaded_error", "message": "Overloaded"}}
    assert stream.feed(b"event: error\ndata: " + orjson.dumps(error)) == b""
    tail = stream.flush()
    assert _frames(tail) == [("error", error)]
    assert stream.failed and not stream.finished
