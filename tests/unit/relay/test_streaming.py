"""SSEScanner: forwards whole events only, meters usage, drops only the chunk it asked for."""

from __future__ import annotations

import orjson

from relaygate.relay.streaming import SSEScanner


def _frame(obj: object) -> bytes:
    return b"data: " + orjson.dumps(obj) + b"\n\n"


CONTENT = _frame({"choices": [{"index": 0, "delta": {"content": "Hi"}}], "usage": None})
USAGE = _frame(
    {
        "choices": [],
        "usage": {
            "prompt_tokens": 11,
            "completion_tokens": 7,
            "prompt_tokens_details": {"cached_tokens": 3},
            "completion_tokens_details": {"reasoning_tokens": 2},
        },
    }
)
DONE = b"data: [DONE]\n\n"


def test_partial_events_are_held_until_complete() -> None:
    scanner = SSEScanner(drop_usage_chunk=False)
    assert scanner.feed(CONTENT[:10]) == b""
    assert scanner.feed(CONTENT[10:]) == CONTENT


def test_usage_chunk_is_read_and_kept_when_the_client_asked_for_it() -> None:
    scanner = SSEScanner(drop_usage_chunk=False)
    out = scanner.feed(CONTENT + USAGE + DONE)
    assert out == CONTENT + USAGE + DONE
    assert scanner.usage is not None
    assert (scanner.usage.prompt_tokens, scanner.usage.completion_tokens) == (11, 7)
    assert (scanner.usage.cached_tokens, scanner.usage.reasoning_tokens) == (3, 2)


def test_usage_chunk_is_dropped_when_the_gateway_asked_for_it() -> None:
    scanner = SSEScanner(drop_usage_chunk=True)
    out = scanner.feed(CONTENT) + scanner.feed(USAGE[:25]) + scanner.feed(USAGE[25:] + DONE)
    assert out == CONTENT + DONE
    assert scanner.usage is not None and scanner.usage.completion_tokens == 7


def test_null_usage_on_content_chunks_is_not_usage() -> None:
    scanner = SSEScanner(drop_usage_chunk=True)
    assert scanner.feed(CONTENT) == CONTENT
    assert scanner.usage is None
    assert scanner.content_events == 1


def test_crlf_framed_events_are_forwarded() -> None:
    scanner = SSEScanner(drop_usage_chunk=False)
    event = b'data: {"choices":[{"delta":{"content":"x"}}]}\r\n\r\n'
    assert scanner.feed(event) == event


def test_comments_pass_through_and_flush_returns_the_tail() -> None:
    scanner = SSEScanner(drop_usage_chunk=False)
    assert scanner.feed(b": keep-alive\n\n" + b"data: {") == b": keep-alive\n\n"
    assert scanner.flush() == b"data: {"


def test_the_terminal_done_line_finishes_the_stream() -> None:
    scanner = SSEScanner(drop_usage_chunk=False)
    scanner.feed(CONTENT)
    assert not scanner.finished
    scanner.feed(b"data:[DONE]\r\n\r\n")
    assert scanner.finished


def test_done_inside_generated_text_does_not_finish_the_stream() -> None:
    scanner = SSEScanner(drop_usage_chunk=False)
    scanner.feed(_frame({"choices": [{"delta": {"content": "say\ndata: [DONE]\n"}}]}))
    assert not scanner.finished


def test_cumulative_usage_in_several_events_keeps_the_last() -> None:
    scanner = SSEScanner(drop_usage_chunk=True)
    first = _frame({"choices": [{"delta": {"content": "a"}}], "usage": {"completion_tokens": 1}})
    second = _frame({"choices": [{"delta": {"content": "b"}}], "usage": {"completion_tokens": 2}})
    final = _frame({"choices": [], "usage": {"completion_tokens": 2, "prompt_tokens": 5}})
    out = scanner.feed(first + second + final + DONE)
    assert out == first + second + DONE
    assert scanner.usage is not None and scanner.usage.prompt_tokens == 5
