"""SSEFramer: whole events out of bytes split anywhere."""

from __future__ import annotations

from relaygate.relay.dialects.sse import SSEFramer


def test_event_name_and_data_of_lf_and_crlf_events() -> None:
    framer = SSEFramer()
    frames = framer.feed(b"event: ping\ndata: {}\n\r\ndata:[DONE]\r\n\r\n")
    assert frames == [(b"ping", b"{}"), (b"", b"[DONE]")]
    assert framer.held == 0


def test_multi_line_data_is_joined_with_newlines() -> None:
    assert SSEFramer().feed(b"data: a\ndata: b\n\n") == [(b"", b"a\nb")]


def test_comments_ids_and_events_without_data_yield_nothing() -> None:
    framer = SSEFramer()
    assert framer.feed(b": keep-alive\n\nid: 7\nretry: 10\n\nevent: lonely\n\n") == []
    assert framer.feed(b"data: x\n\n") == [(b"", b"x")]  # the lonely name did not stick


def test_cr_and_lf_split_across_chunks() -> None:
    framer = SSEFramer()
    assert framer.feed(b"data: x\r") == []
    assert framer.feed(b"\n\r") == []
    assert framer.held == len(b"data: x\r\n\r")
    assert framer.feed(b"\n") == [(b"", b"x")]
    assert framer.held == 0


def test_held_counts_the_bytes_of_the_incomplete_event() -> None:
    framer = SSEFramer()
    framer.feed(b"data: 1\n\ndata: 2")
    assert framer.held == len(b"data: 2")
    framer.feed(b"\n")
    assert framer.held == len(b"data: 2\n")


def test_close_yields_an_unterminated_last_event() -> None:
    framer = SSEFramer()
    assert framer.feed(b"data: [DONE]") == []
    assert framer.close() == [(b"", b"[DONE]")]
    assert framer.close() == []
