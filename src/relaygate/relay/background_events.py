"""The event stream of a background run, as its client and its replays see it.

A run's stream reader (a translator, or the scanner of a native Responses upstream)
puts out whole SSE events. :class:`EventTap` parses each one once and makes it the
gateway's own: numbered from 0 in the order sent, and every Response inside it given the
gateway's id and links (a native upstream names its own response, and was sent neither
``background`` nor the chain). The same numbered events go to the live client (as
frames) and to the store (as objects), so a replay is the stream the client had.

It also keeps the output as far as it got, item by item, so a run stopped mid-answer
(cancelled) stores what the upstream had produced.
"""

from __future__ import annotations

from typing import Any

import orjson

from relaygate.relay.dialects.sse import SSEFramer
from relaygate.state.replay import TERMINAL_EVENTS, frame

__all__ = ["EventTap"]

_LINKS = ("id", "background", "previous_response_id", "conversation")
_TEXT_DELTAS = {
    "response.output_text.delta": "text",
    "response.reasoning_text.delta": "text",
    "response.refusal.delta": "refusal",
}


class EventTap:
    __slots__ = ("_framer", "_items", "_links", "ended", "frames", "pending", "response")

    def __init__(self, template: dict[str, Any]) -> None:
        self._framer = SSEFramer()
        self._links = {k: template[k] for k in _LINKS if template.get(k) is not None}
        self._items: dict[int, dict[str, Any]] = {}
        self.frames: list[bytes] = []  # every event so far, as sent
        self.pending: list[dict[str, Any]] = []  # events not yet stored
        self.response: dict[str, Any] | None = None  # the terminal event's Response
        self.ended = False  # the terminal event went by; later ones are dropped

    @property
    def count(self) -> int:
        return len(self.frames)

    def feed(self, data: bytes) -> None:
        """A reader's output (whole events; a fragment waits for the rest)."""
        for _, payload in self._framer.feed(data):
            try:
                event = orjson.loads(payload)
            except orjson.JSONDecodeError:
                continue  # "[DONE]" after a native stream's last event
            if isinstance(event, dict):
                self.add(event)

    def add(self, event: dict[str, Any]) -> None:
        if self.ended:
            return
        event["sequence_number"] = len(self.frames)
        response = event.get("response")
        if isinstance(response, dict):
            response = event["response"] = {**response, **self._links}
        self._track(event)
        if event.get("type") in TERMINAL_EVENTS:
            self.ended = True
            self.response = response if isinstance(response, dict) else None
        self.frames.append(frame(event))
        self.pending.append(event)

    def take(self, upto: int) -> list[dict[str, Any]]:
        """The events numbered below ``upto`` not taken before, for the store."""
        kept = [e for e in self.pending if e["sequence_number"] >= upto]
        taken = self.pending[: len(self.pending) - len(kept)]
        self.pending = kept
        return taken

    def output(self) -> list[dict[str, Any]]:
        """The output items as far as the events went (unfinished ones ``in_progress``)."""
        return [self._items[index] for index in sorted(self._items)]

    def _track(self, event: dict[str, Any]) -> None:
        kind, index = event.get("type"), event.get("output_index")
        if not isinstance(index, int):
            return
        if kind in ("response.output_item.added", "response.output_item.done"):
            item = event.get("item")
            if isinstance(item, dict):
                content = item.get("content")
                self._items[index] = (
                    {**item, "content": [dict(p) for p in content]}
                    if (isinstance(content, list))
                    else dict(item)
                )
            return
        item = self._items.get(index)
        if item is None:
            return
        if kind == "response.content_part.added" and isinstance(event.get("part"), dict):
            item.setdefault("content", []).append(dict(event["part"]))
        elif kind in _TEXT_DELTAS:
            parts, position = item.get("content"), event.get("content_index")
            if isinstance(parts, list) and isinstance(position, int) and position < len(parts):
                field = _TEXT_DELTAS[str(kind)]
                parts[position][field] = str(parts[position].get(field, "")) + str(event["delta"])
        elif kind == "response.function_call_arguments.delta":
            item["arguments"] = str(item.get("arguments", "")) + str(event.get("delta", ""))
