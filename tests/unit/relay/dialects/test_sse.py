"""SSEFramer: whole events out of bytes split anywhere; SSEPassthrough: the same bytes,
released at event boundaries; event_object: an event's JSON."""

from __future__ import annotations

import pytest

from relaygate.relay.dialects.sse import SSEFramer, SSEPassthrough, event_object


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


def test_passthrough_releases_whole_events_as_they_came() -> None:
    relay = SSEPassthrough()
    assert relay.feed(b"data: a\r\n\r\ndata: b") == ([(b"", b"a")], b"data: a\r\n\r\n")
    assert relay.feed(b"\n") == ([], b"")
    assert relay.feed(b"\nevent: e\ndata: c\n\n") == (
        [(b"", b"b"), (b"e", b"c")],
        b"data: b\n\nevent: e\ndata: c\n\n",
    )


def test_passthrough_close_returns_the_held_back_tail() -> None:
    relay = SSEPassthrough()
    assert relay.feed(b"data: [DONE]") == ([], b"")
    assert relay.close() == ([(b"", b"[DONE]")], b"data: [DONE]")
    assert relay.close() == ([], b"")


@pytest.mark.parametrize("data", [b'{"type":"x"', b"[DONE]", b"[]", b'"s"', b"5", b""])
def test_event_object_is_none_for_all_but_a_json_object(data: bytes) -> None:
    assert event_object(data) is None


def test_event_object_parses_an_object() -> None:
    assert event_object(b'{"type":"ping"}') == {"type": "ping"}
