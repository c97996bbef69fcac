"""Replay events made from a stored Response, and the event tap of a background run. Pure."""

from __future__ import annotations

from typing import Any

from relaygate.relay.background_events import EventTap
from relaygate.state.replay import closing_event, frame, synthesise

RESPONSE: dict[str, Any] = {
    "id": "resp_1",
    "object": "response",
    "status": "completed",
    "usage": {"input_tokens": 3, "output_tokens": 2, "total_tokens": 5},
    "output": [
        {
            "id": "rs_1",
            "type": "reasoning",
            "summary": [],
            "content": [{"type": "reasoning_text", "text": "think"}],
            "status": "completed",
        },
        {
            "id": "fc_1",
            "type": "function_call",
            "status": "completed",
            "arguments": '{"a":1}',
            "call_id": "call_1",
            "name": "f",
        },
    ],
}


def test_synthesised_events_are_numbered_and_complete() -> None:
    events = synthesise(RESPONSE)
    assert [e["sequence_number"] for e in events] == list(range(len(events)))
    assert [e["type"] for e in events] == [
        "response.created",
        "response.in_progress",
        "response.output_item.added",
        "response.content_part.added",
        "response.reasoning_text.delta",
        "response.reasoning_text.done",
        "response.content_part.done",
        "response.output_item.done",
        "response.output_item.added",
        "response.function_call_arguments.delta",
        "response.function_call_arguments.done",
        "response.output_item.done",
        "response.completed",
    ]
    assert "usage" not in events[0]["response"] and events[0]["response"]["output"] == []
    assert events[8]["item"]["arguments"] == "" and events[9]["delta"] == '{"a":1}'
    assert events[-1]["response"] == RESPONSE
    assert synthesise(RESPONSE) == events  # deterministic


def test_closing_event_by_status() -> None:
    assert closing_event({**RESPONSE, "status": "failed"}, 7) == {
        "type": "response.failed",
        "response": {**RESPONSE, "status": "failed"},
        "sequence_number": 7,
    }
    assert closing_event({**RESPONSE, "status": "cancelled"}, 7) is None
    assert closing_event({**RESPONSE, "status": "in_progress"}, 7) is None


def test_tap_numbers_events_makes_them_ours_and_keeps_partial_output() -> None:
    tap = EventTap({"id": "resp_ours", "background": True, "previous_response_id": None})
    theirs = {"id": "resp_theirs", "status": "in_progress", "output": []}
    message = {"id": "msg_1", "type": "message", "status": "in_progress", "content": []}
    where = {"item_id": "msg_1", "output_index": 0, "content_index": 0}
    stream = [
        {"type": "response.created", "response": theirs, "sequence_number": 40},
        {"type": "response.output_item.added", "output_index": 0, "item": message},
        {"type": "response.content_part.added", **where, "part": {"type": "output_text"}},
        {"type": "response.output_text.delta", **where, "delta": "Hel"},
        {"type": "response.output_text.delta", **where, "delta": "lo"},
    ]
    data = b"".join(frame(e) for e in stream)
    tap.feed(data[:17])  # split anywhere
    tap.feed(data[17:] + b"data: [DONE]\n\n")
    assert tap.count == 5 and [e["sequence_number"] for e in tap.take(3)] == [0, 1, 2]
    assert [e["sequence_number"] for e in tap.take(10)] == [3, 4]
    assert tap.frames[0].startswith(b"event: response.created\ndata: ")
    assert b'"id":"resp_ours"' in tap.frames[0] and b'"background":true' in tap.frames[0]
    (item,) = tap.output()
    assert item["status"] == "in_progress" and item["content"][0]["text"] == "Hello"
    assert message["content"] == []  # the events themselves are not changed
    tap.add({"type": "response.completed", "response": {**theirs, "status": "completed"}})
    tap.add({"type": "response.output_text.delta", **where, "delta": "late"})
    assert tap.ended and tap.count == 6 and tap.response is not None
    assert tap.response["id"] == "resp_ours"
