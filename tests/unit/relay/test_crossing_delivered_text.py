"""Every stream reader estimates the text it delivered, whatever the JSON's formatting.

The reference text is read independently here, by parsing each event with ``json``;
a reader fed a whole stream (one batch) must report exactly ``estimate_tokens`` of it,
and the same when every event is re-encoded with spaces and ``\\u`` escapes.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from relaygate.core.tokens import estimate_tokens
from relaygate.relay.crossing import StreamReader, stream_reader
from relaygate.relay.dialects.openai_responses.stream import ResponsesScanner, ResponsesTranslator
from relaygate.relay.dialects.translated_stream import StreamTranslator
from relaygate.relay.stream_answer import stream_usage
from relaygate.relay.streaming import SSEScanner
from tests.unit.relay.dialects.openai_responses.golden import stream_template

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures"
OPENAI_STREAMS = ["stream_deepseek_reasoning.sse", "stream_tools.sse", "stream_no_done.sse"]
ANTHROPIC_STREAMS = ["stream_thinking_tools.sse", "stream_server_tools.sse"]


def fixture(dialect: str, name: str) -> bytes:
    return (FIXTURES / dialect / name).read_bytes()


def events(stream: bytes) -> list[tuple[bytes, Any]]:
    """(event: line, parsed data) of each event; data that is not JSON is kept as bytes."""
    out = []
    for raw in stream.replace(b"\r\n", b"\n").split(b"\n\n"):
        lines = raw.split(b"\n")
        name = next((line[6:].strip() for line in lines if line.startswith(b"event:")), b"")
        data = b"\n".join(line[5:].strip() for line in lines if line.startswith(b"data:"))
        if data:
            try:
                out.append((name, json.loads(data)))
            except ValueError:
                out.append((name, data))
    return out


def respaced(stream: bytes) -> bytes:
    """The same stream with every JSON event spaced and its non-ASCII text escaped."""
    frames = []
    for name, data in events(stream):
        line = data if isinstance(data, bytes) else json.dumps(data, ensure_ascii=True).encode()
        frames.append((b"event: " + name + b"\n" if name else b"") + b"data: " + line + b"\n\n")
    return b"".join(frames)


def openai_text(stream: bytes) -> str:
    parts = []
    for _, chunk in events(stream):
        for choice in chunk.get("choices") or [] if isinstance(chunk, dict) else []:
            delta = choice.get("delta") or {}
            for field in ("reasoning_content", "reasoning", "content", "refusal"):
                if isinstance(delta.get(field), str):
                    parts.append(delta[field])
            for call in delta.get("tool_calls") or []:
                parts.append((call.get("function") or {}).get("arguments") or "")
    return "".join(parts)


def anthropic_text(stream: bytes) -> str:
    fields = {
        "text_delta": "text",
        "thinking_delta": "thinking",
        "input_json_delta": "partial_json",
    }
    parts = []
    for _, event in events(stream):
        if isinstance(event, dict) and event.get("type") == "content_block_delta":
            delta = event["delta"]
            if delta.get("type") in fields:
                parts.append(delta[fields[delta["type"]]])
    return "".join(parts)


def whole(reader: StreamReader, stream: bytes) -> int:
    reader.feed(stream)
    return reader.delivered


CJK = (
    b'data: {"id":"c1","object":"chat.completion.chunk","created":1,"model":"m","choices":'
    b'[{"index":0,"delta":{"content":"\\u4f60\\u597d, \\"world\\"\\n"},"finish_reason":null},'
    b'{"index":1,"delta":{"content":"\xe4\xbd\xa0\xe5\xa5\xbd"},"finish_reason":null}]}\n\n'
)


@pytest.mark.parametrize("name", OPENAI_STREAMS)
@pytest.mark.parametrize("spaced", [False, True])
def test_openai_passthrough_counts_every_text_field(name: str, spaced: bool) -> None:
    stream = fixture("openai_chat", name)
    expected = estimate_tokens(openai_text(stream))
    assert expected > 0
    assert whole(SSEScanner(drop_usage_chunk=False), respaced(stream) if spaced else stream) == (
        expected
    )


def test_openai_passthrough_decodes_escapes_and_counts_every_choice() -> None:
    assert whole(SSEScanner(drop_usage_chunk=False), CJK) == estimate_tokens('你好, "world"\n你好')
    assert whole(SSEScanner(drop_usage_chunk=False), respaced(CJK)) == estimate_tokens(
        '你好, "world"\n你好'
    )


def test_legacy_completions_count_the_text_of_each_choice() -> None:
    chunk = {"id": "cmpl-1", "object": "text_completion", "created": 1, "model": "m",
             "choices": [{"text": "Hello there", "index": 0, "logprobs": None,
                          "finish_reason": None}]}  # fmt: skip
    stream = b"data: " + json.dumps(chunk).encode() + b"\n\n"
    assert whole(SSEScanner(False, completions=True), stream) == estimate_tokens("Hello there")
    assert whole(SSEScanner(False), stream) == 0  # "text" is not a chat field


@pytest.mark.parametrize("name", ANTHROPIC_STREAMS)
@pytest.mark.parametrize("spaced", [False, True])
def test_anthropic_passthrough_counts_text_thinking_and_tool_input(name: str, spaced: bool) -> None:
    stream = fixture("anthropic_messages", name)
    expected = estimate_tokens(anthropic_text(stream))
    assert expected > 0
    reader = stream_reader(
        "anthropic", "anthropic", model="m", request_id="req_1", include_usage=False,
        injected=False, legacy=False,
    )  # fmt: skip
    assert whole(reader, respaced(stream) if spaced else stream) == expected


@pytest.mark.parametrize("spaced", [False, True])
def test_responses_passthrough_counts_every_delta(spaced: bool) -> None:
    stream = fixture("openai_responses", "native_stream.sse")
    deltas = [e["delta"] for _, e in events(stream) if e["type"].endswith(".delta")]
    assert len(deltas) == 5
    assert whole(ResponsesScanner(), respaced(stream) if spaced else stream) == estimate_tokens(
        "".join(deltas)
    )


@pytest.mark.parametrize(
    ("upstream", "client", "name"),
    [
        ("openai", "anthropic", "stream_deepseek_reasoning.sse"),
        ("openai", "anthropic", "stream_tools.sse"),
        ("anthropic", "openai", "stream_thinking_tools.sse"),
    ],
)
def test_translators_count_the_text_they_relay(upstream: str, client: str, name: str) -> None:
    stream = fixture("openai_chat" if upstream == "openai" else "anthropic_messages", name)
    text = openai_text(stream) if upstream == "openai" else anthropic_text(stream)
    translator = StreamTranslator(upstream, client, model="m", request_id="req_1")
    assert whole(translator, respaced(stream)) == estimate_tokens(text)
    responses = ResponsesTranslator(upstream, response_template=stream_template())
    assert whole(responses, stream) == estimate_tokens(text)


def test_the_legacy_route_counts_what_its_upstream_generated() -> None:
    stream = fixture("anthropic_messages", "stream_thinking_tools.sse")
    reader = stream_reader(
        "anthropic", "anthropic", model="m", request_id="req_1", include_usage=False,
        injected=False, legacy=True,
    )  # fmt: skip
    assert whole(reader, stream) == estimate_tokens(anthropic_text(stream))


def test_a_stream_read_in_pieces_counts_about_the_same() -> None:
    """Batches are estimated one by one (linear cost); the sum stays near the whole."""
    stream = fixture("anthropic_messages", "stream_thinking_tools.sse")
    reader = stream_reader(
        "anthropic", "anthropic", model="m", request_id="req_1", include_usage=False,
        injected=False, legacy=False,
    )  # fmt: skip
    for at in range(0, len(stream), 7):
        reader.feed(stream[at : at + 7])
    expected = estimate_tokens(anthropic_text(stream))
    deltas = sum(1 for _, e in events(stream) if e.get("type") == "content_block_delta")
    assert abs(reader.delivered - expected) <= deltas  # a batch rounds once


def test_a_cut_stream_pays_the_larger_of_the_reported_and_the_delivered() -> None:
    stream = fixture("anthropic_messages", "stream_thinking_tools.sse")
    reader = stream_reader(
        "anthropic", "anthropic", model="m", request_id="req_1", include_usage=False,
        injected=False, legacy=False,
    )  # fmt: skip
    reader.feed(stream.split(b"event: message_delta")[0])  # message_start said 2 tokens
    assert reader.usage is not None and reader.usage.completion_tokens == 2
    cut = stream_usage(reader, b"{}", whole=False)
    assert cut.completion_tokens == reader.delivered > 2 and cut.estimated
    assert cut.prompt_tokens == reader.usage.prompt_tokens  # the upstream's own count
    assert stream_usage(reader, b"{}", whole=True).completion_tokens == 2


def test_a_whole_stream_pays_the_upstreams_count() -> None:
    stream = fixture("openai_chat", "stream_tools.sse")  # its usage chunk says REPORTED
    scanner = SSEScanner(drop_usage_chunk=False)
    scanner.feed(stream.replace(b"data: [DONE]\n\n", b""))  # a server that sends no [DONE]
    assert not scanner.finished and scanner.final_usage
    assert stream_usage(scanner, b"{}", whole=True).completion_tokens == REPORTED
    nothing = SSEScanner(drop_usage_chunk=False)  # no usage at all: the estimate
    nothing.feed(first_events(stream, 5))
    usage = stream_usage(nothing, b"x" * 40, whole=True)
    assert (usage.prompt_tokens, usage.completion_tokens) == (10, nothing.delivered)
    assert usage.estimated


REPORTED = int(
    fixture("openai_chat", "stream_tools.sse").split(b'"completion_tokens":')[1].split(b",")[0]
)


def first_events(stream: bytes, count: int) -> bytes:
    return b"".join(event + b"\n\n" for event in stream.split(b"\n\n")[:count])
