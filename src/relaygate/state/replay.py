"""A stored Response as the Responses event stream, for ``GET /v1/responses/{id}?stream=true``.

A background response replays the events its run stored, exactly as they were sent.
Any other stored response kept no events (its stream, if it had one, went straight to
its caller), so its events are made here from the Response, deterministically, in the
order and shape the gateway's own stream encoder gives them
(``relay/dialects/openai_responses/encoder.py``): ``response.created``,
``response.in_progress``, then per output item ``output_item.added``, its content
parts (``content_part.added``, one delta with the whole text, ``….done``,
``content_part.done``), ``output_item.done``, and the terminal event. The numbers
match the live stream's when that stream sent each part's text in one delta; a live
stream of many deltas had more events, so ``starting_after`` counts differently there.
Pure (no I/O).
"""

from __future__ import annotations

from typing import Any

import orjson

__all__ = ["RUNNING", "TERMINAL_EVENTS", "closing_event", "frame", "synthesise"]

RUNNING = frozenset({"queued", "in_progress"})
TERMINAL_EVENTS = frozenset(
    {"response.completed", "response.incomplete", "response.failed", "error"}
)
_TERMINAL_OF = {
    "completed": "response.completed",
    "incomplete": "response.incomplete",
    "failed": "response.failed",
}
_TEXT_KINDS = {
    "output_text": "output_text",
    "refusal": "refusal",
    "reasoning_text": "reasoning_text",
}


def frame(event: dict[str, Any]) -> bytes:
    """One SSE frame: ``event: <type>`` and its JSON."""
    name = str(event.get("type", "message")).encode()
    return b"event: " + name + b"\ndata: " + orjson.dumps(event) + b"\n\n"


def closing_event(response: dict[str, Any], sequence_number: int) -> dict[str, Any] | None:
    """The terminal event of a finished Response (None while running, or cancelled:
    the event stream has no ``response.cancelled``)."""
    name = _TERMINAL_OF.get(str(response.get("status")))
    if name is None:
        return None
    return {"type": name, "response": response, "sequence_number": sequence_number}


def synthesise(response: dict[str, Any]) -> list[dict[str, Any]]:
    """The whole event stream of a finished Response, numbered from 0."""
    start = {
        **response,
        "status": "in_progress",
        "output": [],
        "completed_at": None,
        "error": None,
        "incomplete_details": None,
    }
    start.pop("usage", None)
    events: list[dict[str, Any]] = [
        {"type": "response.created", "response": start},
        {"type": "response.in_progress", "response": start},
    ]
    for index, item in enumerate(response.get("output") or []):
        if isinstance(item, dict):
            events.extend(_item_events(index, item))
    numbered = [{**event, "sequence_number": n} for n, event in enumerate(events)]
    closing = closing_event(response, len(numbered))
    return numbered + ([closing] if closing else [])


def _item_events(index: int, item: dict[str, Any]) -> list[dict[str, Any]]:
    kind = item.get("type")
    opened = {**item, "status": "in_progress"}
    middle: list[dict[str, Any]] = []
    if kind in ("message", "reasoning") and isinstance(item.get("content"), list):
        opened["content"] = []
        for position, part in enumerate(item["content"]):
            if isinstance(part, dict):
                middle.extend(_part_events(index, str(item.get("id", "")), position, part))
    elif kind == "function_call":
        opened["arguments"] = ""
        where = {"item_id": item.get("id"), "output_index": index}
        arguments = str(item.get("arguments", ""))
        middle = [
            {"type": "response.function_call_arguments.delta", **where, "delta": arguments},
            {
                "type": "response.function_call_arguments.done",
                **where,
                "name": item.get("name"),
                "arguments": arguments,
            },
        ]
    added = {"type": "response.output_item.added", "output_index": index, "item": opened}
    done = {"type": "response.output_item.done", "output_index": index, "item": item}
    return [added, *middle, done]


def _part_events(
    index: int, item_id: str, position: int, part: dict[str, Any]
) -> list[dict[str, Any]]:
    kind = _TEXT_KINDS.get(str(part.get("type")))
    where = {"item_id": item_id, "output_index": index, "content_index": position}
    if kind is None:  # a part with no text deltas: announced and finished
        return [
            {"type": "response.content_part.added", **where, "part": part},
            {"type": "response.content_part.done", **where, "part": part},
        ]
    field = "refusal" if kind == "refusal" else "text"
    text = str(part.get(field, ""))
    empty = {**part, field: ""}
    delta: dict[str, Any] = {"type": f"response.{kind}.delta", **where, "delta": text}
    done: dict[str, Any] = {"type": f"response.{kind}.done", **where, field: text}
    if kind == "output_text":
        delta["logprobs"] = done["logprobs"] = []
    return [
        {"type": "response.content_part.added", **where, "part": empty},
        delta,
        done,
        {"type": "response.content_part.done", **where, "part": part},
    ]
