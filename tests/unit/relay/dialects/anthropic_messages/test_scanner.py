"""AnthropicScanner: same-dialect passthrough releases whole events, unchanged, metered."""

from __future__ import annotations

from pathlib import Path

from relaygate.relay.canonical import Usage
from relaygate.relay.dialects.anthropic_messages.scanner import AnthropicScanner

FIXTURES = Path(__file__).resolve().parents[4] / "fixtures" / "anthropic_messages"
STREAM = (FIXTURES / "stream_thinking_tools.sse").read_bytes()
EXPECTED_USAGE = Usage(
    prompt_tokens=12 + 2048 + 300, completion_tokens=89, cached_tokens=2048, cache_write_tokens=300
)


def test_whole_stream_passes_unchanged_and_is_metered() -> None:
    scanner = AnthropicScanner()
    assert scanner.feed(STREAM) is STREAM  # no copy when the chunk ends on an event
    assert scanner.usage == EXPECTED_USAGE
    assert scanner.content_events == 5
    assert scanner.finished and scanner.error is None
    assert scanner.flush() == b""


def test_split_at_every_byte_boundary_releases_the_same_bytes() -> None:
    for cut in range(len(STREAM) + 1):
        scanner = AnthropicScanner()
        first = scanner.feed(STREAM[:cut])
        assert first == STREAM[: len(first)] and (first == b"" or first.endswith(b"\n\n"))
        assert first + scanner.feed(STREAM[cut:]) + scanner.flush() == STREAM, cut
        assert scanner.usage == EXPECTED_USAGE and scanner.finished


def test_crlf_stream_split_byte_by_byte() -> None:
    crlf = STREAM.replace(b"\n", b"\r\n")
    scanner = AnthropicScanner()
    pieces = [scanner.feed(crlf[i : i + 1]) for i in range(len(crlf))]
    assert b"".join(pieces) == crlf
    assert all(p == b"" or p.endswith(b"\r\n\r\n") for p in pieces)
    assert scanner.usage == EXPECTED_USAGE and scanner.content_events == 5


def test_finished_comes_with_the_feed_that_holds_message_stop() -> None:
    scanner = AnthropicScanner()
    stop_at = STREAM.index(b"event: message_stop")
    scanner.feed(STREAM[:stop_at])
    assert not scanner.finished
    out = scanner.feed(STREAM[stop_at:])
    assert scanner.finished and out == b'event: message_stop\ndata: {"type":"message_stop"}\n\n'


def test_incomplete_tail_is_held_then_flushed() -> None:
    scanner = AnthropicScanner()
    head = b'event: ping\ndata: {"type":"ping"}\n\n'
    assert scanner.feed(head + b"event: content_block_delta\ndata: {") == head
    assert scanner.flush() == b"event: content_block_delta\ndata: {"
    assert scanner.usage is None and not scanner.finished


def test_error_event_sets_error_and_finished() -> None:
    scanner = AnthropicScanner()
    stream = (FIXTURES / "stream_error.sse").read_bytes()
    assert scanner.feed(stream) == stream
    assert scanner.error == "Overloaded" and scanner.finished
    assert scanner.usage == Usage(prompt_tokens=25, completion_tokens=1)
    assert scanner.content_events == 1


def test_later_usage_wins_and_empty_deltas_are_not_content() -> None:
    scanner = AnthropicScanner()
    scanner.feed(
        b'event: message_start\ndata: {"type":"message_start","message":{"usage":'
        b'{"input_tokens":5,"output_tokens":1}}}\n\n'
        b'event: content_block_delta\ndata: {"type":"content_block_delta","index":0,'
        b'"delta":{"type":"input_json_delta","partial_json":""}}\n\n'
        b'event: message_delta\ndata: {"type":"message_delta","delta":{"stop_reason":"end_turn"},'
        b'"usage":{"input_tokens":6,"cache_read_input_tokens":4,"output_tokens":9}}\n\n'
    )
    assert scanner.usage == Usage(prompt_tokens=10, completion_tokens=9, cached_tokens=4)
    assert scanner.content_events == 0
