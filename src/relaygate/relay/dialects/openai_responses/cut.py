"""The output of a relayed Responses stream, kept so the gateway can end it at its hold.

A native Responses stream is relayed unchanged (``stream.ResponsesScanner``); when the
stream reaches its hold the gateway ends it itself, and the ending must be the one
OpenAI sends when ``max_output_tokens`` is hit, event for event, so an SDK that
accumulates the stream ends with the text that was delivered:

* each content part still open is finished with its ``.done`` text event carrying the
  whole text (``output_text.done`` / ``refusal.done`` / ``reasoning_text.done``, or
  ``reasoning_summary_text.done`` for a summary part), then its part event
  (``content_part.done`` / ``reasoning_summary_part.done``);
* a call streams no parts: ``function_call_arguments.done`` (with the call's name) or
  ``custom_tool_call_input.done`` with everything received;
* then ``output_item.done`` with the item ``incomplete`` and every part in it;
* (the caller adds ``response.incomplete`` with every finished item.)

:class:`OpenItems` follows the item and part lifecycle events (rare: they are parsed)
and collects the deltas' raw text (not parsed: the hot path). A delta belongs to the
last part added of the last item added: OpenAI streams one item at a time and one part
at a time, so nothing is lost by not reading each delta's indexes.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from relaygate.relay.dialects.delivered import decoded

__all__ = ["TEXT_DONE", "OpenItems"]

# a part's type -> its text field, its ``.done`` text event
_CONTENT_DONE = {
    "output_text": ("text", "response.output_text.done"),
    "refusal": ("refusal", "response.refusal.done"),
    "reasoning_text": ("text", "response.reasoning_text.done"),
}
_CALL_DONE = frozenset(
    {"response.function_call_arguments.done", "response.custom_tool_call_input.done"}
)
# the ``.done`` events of a part's text or a call's input (parsed: the ending must not
# repeat one that went by)
TEXT_DONE = frozenset(
    {
        *(name for _, name in _CONTENT_DONE.values()),
        "response.reasoning_summary_text.done",
        *_CALL_DONE,
    }
)


@dataclass(slots=True)
class _Part:
    summary: bool  # a reasoning summary part (``summary_index``), else a content part
    index: Any  # its content_index / summary_index
    part: dict[str, Any]  # as added, or as finished once ``done``
    text: list[bytes] = field(default_factory=list)  # raw delta bodies received
    text_done: bool = False  # its ``.done`` text event went by
    done: bool = False


@dataclass(slots=True)
class _Item:
    index: Any  # output_index
    item: dict[str, Any]  # as added
    parts: list[_Part] = field(default_factory=list)
    text: list[bytes] = field(default_factory=list)  # a call's raw argument deltas
    text_done: bool = False  # the call's ``.done`` arguments went by


class OpenItems:
    """The output items of one stream: those finished, and those still open."""

    __slots__ = ("_open", "finished")

    def __init__(self) -> None:
        self._open: dict[int | None, _Item] = {}  # output index -> item added, not done
        self.finished: list[Any] = []  # the items of ``output_item.done``, in order

    def event(self, kind: str, event: dict[str, Any]) -> None:
        """Follow one lifecycle event (item or part added or done)."""
        index = event.get("output_index")
        if not isinstance(index, int):  # not OpenAI's: nothing to finish by it
            index = None
        if kind == "response.output_item.added":
            if isinstance(item := event.get("item"), dict):
                self._open.pop(index, None)
                self._open[index] = _Item(index, item)  # now the last one added
        elif kind == "response.output_item.done":
            self._open.pop(index, None)
            self.finished.append(event.get("item"))
        elif (open_item := self._open.get(index)) is None:
            return
        elif kind in TEXT_DONE:
            self._text_done(open_item, kind, event)
        else:
            self._part_event(open_item, kind, event)

    def delta(self, raw: bytes) -> None:
        """The raw JSON string body of a delta: added to the part (or call) it extends."""
        if not self._open:
            return
        item = next(reversed(self._open.values()))
        part = item.parts[-1] if item.parts and not item.parts[-1].done else None
        (part.text if part is not None else item.text).append(raw)

    def close(self, number: int | None) -> list[dict[str, Any]]:
        """The events that finish every open item ``incomplete``, numbered on from
        ``number`` (None: the upstream does not number its events); the items join
        ``finished``."""
        events: list[dict[str, Any]] = []
        for item in self._open.values():
            events.extend(_closing(item))
        self._open = {}
        for event in events:
            if event["type"] == "response.output_item.done":
                self.finished.append(event["item"])
            if number is not None:
                event["sequence_number"] = number
                number += 1
        return events

    def _text_done(self, item: _Item, kind: str, event: dict[str, Any]) -> None:
        if kind in _CALL_DONE:
            item.text_done = True
            return
        summary = kind == "response.reasoning_summary_text.done"
        index = event.get("summary_index" if summary else "content_index")
        for known in item.parts:
            if known.summary == summary and known.index == index:
                known.text_done = True

    def _part_event(self, item: _Item, kind: str, event: dict[str, Any]) -> None:
        summary = kind.startswith("response.reasoning_summary_part.")
        index = event.get("summary_index" if summary else "content_index")
        part = event.get("part")
        if not isinstance(part, dict) or not isinstance(index, int):
            return
        if kind.endswith(".added"):
            item.parts.append(_Part(summary, index, part))
            return
        for known in item.parts:
            if known.summary == summary and known.index == index:
                known.part, known.done = part, True


def _closing(item: _Item) -> list[dict[str, Any]]:
    """The events that finish ``item`` as the output limit does; the last is its
    ``output_item.done``."""
    events: list[dict[str, Any]] = []
    where = {"item_id": item.item.get("id"), "output_index": item.index}
    for part in item.parts:
        if not part.done:
            events.extend(_part_closing(part, where))
    done = {**item.item, "status": "incomplete"}
    kind = item.item.get("type")
    text = decoded(item.text)
    if kind == "function_call":
        done["arguments"] = text
        name = item.item.get("name")
        if not item.text_done:
            events.append(
                {"type": "response.function_call_arguments.done", **where, "name": name,
                 "arguments": text}
            )  # fmt: skip
    elif kind == "custom_tool_call":
        done["input"] = text
        if not item.text_done:
            events.append({"type": "response.custom_tool_call_input.done", **where, "input": text})
    content = [p.part for p in item.parts if not p.summary]
    if content or kind == "message":
        done["content"] = content
    if kind == "reasoning":
        done["summary"] = [p.part for p in item.parts if p.summary]
    events.append({"type": "response.output_item.done", "output_index": item.index, "item": done})
    return events


def _part_closing(part: _Part, where: dict[str, Any]) -> list[dict[str, Any]]:
    """A part's ``.done`` text event and its part-done event, with all its text; the
    part becomes its finished form."""
    text = decoded(part.text)
    part.done = True
    if part.summary:
        part.part = {**part.part, "type": "summary_text", "text": text}
        at = {**where, "summary_index": part.index}
        events = [{"type": "response.reasoning_summary_text.done", **at, "text": text}]
        return [
            *(events if not part.text_done else []),
            {"type": "response.reasoning_summary_part.done", **at, "part": part.part},
        ]
    kind = str(part.part.get("type"))
    at = {**where, "content_index": part.index}
    events = []
    if (known := _CONTENT_DONE.get(kind)) is not None:
        key, name = known
        part.part = {**part.part, key: text}
        extra: dict[str, Any] = {"logprobs": []} if kind == "output_text" else {}
        if not part.text_done:
            events.append({"type": name, **at, key: text, **extra})
    if kind == "output_text":
        part.part.setdefault("annotations", [])
        part.part.setdefault("logprobs", [])
    events.append({"type": "response.content_part.done", **at, "part": part.part})
    return events
