"""Checks of a Responses event stream against ../shared/spec.

Each event is validated against its own schema in the OpenAPI document (the schema
name comes from stream-events.json, so a spec update shows up here), including the
full ``Response`` object of the lifecycle events; then the stream's structure is
checked as wire-formats.md §3.3 and client-requirements.md §5.2 describe it.
"""

from __future__ import annotations

import json
from functools import cache
from typing import Any

import orjson

from tests.unit.relay.dialects.spec import SPEC, openai_errors
from tests.unit.relay.dialects.spec_check import split_events

TERMINAL = ("response.completed", "response.incomplete", "response.failed")


@cache
def event_schemas() -> dict[str, str]:
    events = json.loads((SPEC / "stream-events.json").read_text())["openai"]
    return {event["type"]: event["schema"] for event in events["responses_stream_events"]}


def check_response(response: dict[str, Any]) -> None:
    assert openai_errors(response, "Response") == []
    assert response["object"] == "response" and response["id"].startswith("resp_")


def check_responses(stream: bytes) -> list[dict[str, Any]]:
    """Assert ``stream`` is a well-formed Responses stream; return its events."""
    events = []
    for index, (name, data) in enumerate(split_events(stream)):
        event = orjson.loads(data)
        assert name == event["type"], "every event needs an `event:` line naming its type"
        assert event["sequence_number"] == index, "sequence numbers count from 0 by one"
        assert openai_errors(event, event_schemas()[event["type"]]) == [], event["type"]
        events.append(event)
    kinds = [event["type"] for event in events]
    assert kinds[:2] == ["response.created", "response.in_progress"]
    assert kinds[-1] in TERMINAL and sum(kind in TERMINAL for kind in kinds) == 1
    for event in events[:2]:
        assert event["response"]["status"] == "in_progress" and event["response"]["output"] == []
    _check_items(events)
    _check_parts(events)
    return events


_PART_EVENTS = {
    "response.content_part.added": ("content_index", True),
    "response.content_part.done": ("content_index", False),
    "response.reasoning_summary_part.added": ("summary_index", True),
    "response.reasoning_summary_part.done": ("summary_index", False),
}
_TEXT_DONE = {
    "response.output_text.done": ("content_index", "text"),
    "response.refusal.done": ("content_index", "refusal"),
    "response.reasoning_text.done": ("content_index", "text"),
    "response.reasoning_summary_text.done": ("summary_index", "text"),
}
_CALLS_DONE = ("response.function_call_arguments.done", "response.custom_tool_call_input.done")


def _check_parts(events: list[dict[str, Any]]) -> None:
    """As OpenAI streams an item (also when the output limit cuts it): each part added
    is finished before its item (its ``.done`` text event first, then its part event,
    both with the whole text), a call's ``.done`` arguments come before the call's
    ``output_item.done``, and the finished item holds every part as finished."""
    open_parts: dict[tuple[Any, str, Any], bool] = {}  # -> its ``.done`` text was sent
    finished: dict[tuple[Any, str, Any], dict[str, Any]] = {}
    calls_done: set[Any] = set()
    for event in events:
        kind = event["type"]
        if kind in _PART_EVENTS:
            field, added = _PART_EVENTS[kind]
            key = (event["item_id"], field, event[field])
            if added:
                open_parts[key] = False
                continue
            assert open_parts.pop(key), f"{kind} without its text done event first"
            finished[key] = event["part"]
        elif kind in _TEXT_DONE:
            field, text = _TEXT_DONE[kind]
            key = (event["item_id"], field, event[field])
            assert key in open_parts and not open_parts[key], f"{kind} outside its part"
            open_parts[key] = True
        elif kind in _CALLS_DONE:
            calls_done.add(event["item_id"])
        elif kind == "response.output_item.done":
            item = event["item"]
            assert not [k for k in open_parts if k[0] == item["id"]], "a part left open"
            if item["type"] == "function_call" and item.get("status") != "completed":
                assert item["id"] in calls_done, "a cut call's arguments are finished first"
            parts = {k[1:]: v for k, v in finished.items() if k[0] == item["id"]}
            content = [v for (f, i), v in sorted(parts.items(), key=lambda kv: kv[0][1])
                       if f == "content_index"]  # fmt: skip
            if item["type"] == "message":
                assert item["content"] == content


def _check_items(events: list[dict[str, Any]]) -> None:
    """Items are added at consecutive output indexes and finished once each (Codex reads
    only ``output_item.done``); deltas, parts and ``.done`` texts agree; the terminal
    Response's output is the finished items in order."""
    added: dict[int, dict[str, Any]] = {}
    done: dict[int, dict[str, Any]] = {}
    texts: dict[tuple[str, int], str] = {}
    for event in events[2:-1]:
        kind = event["type"]
        if kind == "response.output_item.added":
            assert event["output_index"] == len(added), "output indexes are consecutive"
            added[event["output_index"]] = event["item"]
            continue
        if kind == "response.output_item.done":
            index = event["output_index"]
            assert index in added and index not in done
            assert event["item"]["id"] == added[index]["id"]
            done[index] = event["item"]
            continue
        index = event["output_index"]
        assert index in added and index not in done, f"{kind} outside its item"
        assert event.get("item_id", added[index]["id"]) == added[index]["id"]
        key = (added[index]["id"], event.get("content_index", 0))
        if kind.endswith(".delta"):
            texts[key] = texts.get(key, "") + event["delta"]
        elif kind.endswith("_text.done"):
            assert texts.get(key, "") == event["text"]
        elif kind == "response.function_call_arguments.done":
            assert texts.get(key, "") == event["arguments"]
    terminal = events[-1]["response"]
    check_response(terminal)
    if terminal["status"] != "failed":
        assert sorted(done) == sorted(added), "every item is finished before the end"
        assert terminal["output"] == [done[index] for index in sorted(done)]
