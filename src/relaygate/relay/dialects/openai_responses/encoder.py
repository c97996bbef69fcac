"""Canonical stream events to a Responses event stream.

The canonical stream is Anthropic-shaped (blocks with deltas); a Responses stream is a
list of output items, each announced (``response.output_item.added``), filled by deltas
and finished (``response.output_item.done``), between ``response.created`` /
``response.in_progress`` and exactly one terminal event (``response.completed``,
``response.incomplete`` or ``response.failed``) that carries the whole Response. Codex
builds its answer only from ``output_item.done`` and stops at ``response.completed``
(shared/spec/client-requirements.md §5.2), so every item is finished before the
terminal event, which is sent the moment the upstream's answer ends.

Blocks to items:

* text -> a ``message`` item with one ``output_text`` part per text block; consecutive
  text blocks share the message (see ``convert.output_items``), so the message is
  finished when a block of another kind starts or the answer ends.
* thinking -> a ``reasoning`` item whose ``reasoning_text`` content streams by
  ``response.reasoning_text.delta``: the upstream's reasoning is the model's own text,
  not an OpenAI summary. The signature goes to ``encrypted_content`` (``output.py``).
* tool_use -> a ``function_call`` item streaming ``function_call_arguments.delta``. The
  OpenAI decoder may send a fragment for a call after the next call began (clients
  accumulate arguments by index), so a run of calls is finished together, when
  something else starts or the answer ends.

Every event has an ``event:`` line and a ``sequence_number`` counting from 0. Deltas,
the hot path, are written from per-part byte prefixes with one ``orjson.dumps`` each.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Literal

import orjson

from relaygate.relay.canonical import Usage
from relaygate.relay.canonical.stream import (
    BlockStart,
    BlockStop,
    MessageDelta,
    MessageStart,
    MessageStop,
    SignatureDelta,
    StopReason,
    StreamError,
    StreamEvent,
    TextDelta,
    ThinkingDelta,
    ToolArgsDelta,
)
from relaygate.relay.dialects.openai_responses.output import (
    TRUNCATED,
    IdFactory,
    Status,
    error_code,
    failed_response,
    finished_response,
    function_call_item,
    message_item,
    output_text,
    reasoning_item,
    seal_redacted,
    seal_thinking,
)
from relaygate.relay.dialects.openai_responses.tools import ToolNames

__all__ = ["ResponsesStreamEncoder"]

_TEXT_TAIL = b',"logprobs":[],"sequence_number":%d}\n\n'
_TAIL = b',"sequence_number":%d}\n\n'


@dataclass(slots=True, eq=False)
class _Item:
    """One output item as it is being streamed."""

    index: int  # output_index
    id: str
    kind: Literal["message", "reasoning", "function_call"]
    parts: list[list[str]] = field(default_factory=list)  # text fragments per content part
    head: bytes = b""  # the current part's delta event up to the delta's value
    call_id: str = ""
    name: str = ""
    signature: str = ""
    redacted: str | None = None  # a redacted thinking block's data
    status: Status | None = None  # set when finished

    def text(self, part: int = -1) -> str:
        return "".join(self.parts[part]) if self.parts else ""


def _head(name: str, fields: dict[str, Any]) -> bytes:
    body = orjson.dumps({"type": name, **fields})[:-1]
    return b"event: " + name.encode() + b"\ndata: " + body + b',"delta":'


class ResponsesStreamEncoder:
    """Canonical events to Responses SSE for one response.

    ``response_template`` is the Response before the answer (``output.response_template``:
    id, model, time, echoed parameters). ``response`` is the final Response once the
    terminal event went out; later events are ignored.
    """

    __slots__ = (
        "_blocks",
        "_clock",
        "_cutting",
        "_ids",
        "_items",
        "_message",
        "_names",
        "_seq",
        "_state",
        "_stop",
        "_template",
        "_tools",
        "_usage",
        "response",
    )

    def __init__(
        self,
        *,
        response_template: dict[str, Any],
        ids: IdFactory,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._template = response_template
        self._ids = ids
        self._clock = clock
        self._names = ToolNames.of(response_template.get("tools"))
        self._seq = 0
        self._cutting = False  # encoding the end at the output limit (``limit``)
        self._state: Literal["new", "open", "closed"] = "new"
        self._items: list[_Item] = []
        self._blocks: dict[int, _Item] = {}  # canonical block index -> its item
        self._message: _Item | None = None  # the message the next text block joins
        self._tools: list[_Item] = []  # the run of calls not yet finished
        self._stop: StopReason = "end_turn"
        self._usage: Usage | None = None
        self.response: dict[str, Any] | None = None

    def encode(self, events: list[StreamEvent]) -> bytes:
        out: list[bytes] = []
        for event in events:
            if self._state == "closed":
                break
            match event:
                case TextDelta() | ThinkingDelta() | ToolArgsDelta():
                    self._delta(event, out)
                case SignatureDelta(index, signature):
                    if (item := self._blocks.get(index)) is not None:
                        item.signature += signature
                case BlockStart():
                    self._block_start(event, out)
                case BlockStop(index):
                    self._block_stop(index, out)
                case MessageStart(_, _, usage):
                    self._usage = usage
                    self._start(out)
                case MessageDelta(stop_reason, _, usage):
                    self._stop = stop_reason
                    self._usage = usage or self._usage
                    self._close_items(out, cut=stop_reason in TRUNCATED)
                case MessageStop():
                    self._finish(out)
                case StreamError(error_type, message):
                    self._fail(error_code(error_type), message, out)
        return b"".join(out)

    def limit(self, events: list[StreamEvent]) -> bytes:
        """Encode the events that end the answer at its output limit (the open blocks
        stopped, ``max_tokens``): the item each open block was cut in is finished
        ``incomplete``, as OpenAI finishes the item ``max_output_tokens`` cuts."""
        self._cutting = True
        return self.encode(events)

    def fail(self, message: str, code: str = "server_error") -> bytes:
        """End the stream with ``response.failed`` for a failure of the gateway's own
        (the upstream connection dropped mid-answer); b"" once the stream has ended."""
        if self._state == "closed":
            return b""
        out: list[bytes] = []
        self._fail(code, message, out)
        return b"".join(out)

    # --- framing ------------------------------------------------------------------------

    def _next(self) -> int:
        number = self._seq
        self._seq += 1
        return number

    def _event(self, name: str, fields: dict[str, Any]) -> bytes:
        payload = {"type": name, **fields, "sequence_number": self._next()}
        return b"event: " + name.encode() + b"\ndata: " + orjson.dumps(payload) + b"\n\n"

    def _delta(self, event: TextDelta | ThinkingDelta | ToolArgsDelta, out: list[bytes]) -> None:
        item = self._blocks.get(event.index)
        if item is None or item.status is not None or not item.parts:
            return  # a fragment for a finished call: its item is final already
        if isinstance(event, TextDelta):
            text, tail = event.text, _TEXT_TAIL
        else:
            text = event.thinking if isinstance(event, ThinkingDelta) else event.partial_json
            tail = _TAIL
        item.parts[-1].append(text)
        out.append(item.head + orjson.dumps(text) + tail % self._next())

    # --- lifecycle ----------------------------------------------------------------------

    def _start(self, out: list[bytes]) -> None:
        if self._state != "new":
            return
        self._state = "open"
        out.append(self._event("response.created", {"response": self._template}))
        out.append(self._event("response.in_progress", {"response": self._template}))

    def _output(self) -> list[dict[str, Any]]:
        return [self._item(item, item.status or "incomplete") for item in self._items]

    def _finish(self, out: list[bytes]) -> None:
        self._start(out)
        self._close_items(out)
        response = finished_response(
            self._template,
            self._output(),
            stop_reason=self._stop,
            usage=self._usage,
            completed_at=int(self._clock()),
        )
        name = "response.completed" if response["status"] == "completed" else "response.incomplete"
        out.append(self._event(name, {"response": response}))
        self.response, self._state = response, "closed"

    def _fail(self, code: str, message: str, out: list[bytes]) -> None:
        self._start(out)
        response = failed_response(
            self._template, self._output(), code=code, message=message, usage=self._usage
        )
        out.append(self._event("response.failed", {"response": response}))
        self.response, self._state = response, "closed"

    # --- items --------------------------------------------------------------------------

    def _new_item(self, kind: Literal["message", "reasoning", "function_call"]) -> _Item:
        prefix = {"message": "msg", "reasoning": "rs", "function_call": "fc"}[kind]
        item = _Item(len(self._items), self._ids(prefix), kind)
        self._items.append(item)
        return item

    def _item(self, item: _Item, status: Status) -> dict[str, Any]:
        if item.kind == "message":
            return message_item(item.id, ["".join(part) for part in item.parts], status)
        if item.kind == "function_call":
            return function_call_item(
                item.id, item.call_id, item.name, item.text(), self._names, status
            )
        if item.redacted is not None:
            return reasoning_item(item.id, None, seal_redacted(item.redacted), status)
        sealed = seal_thinking(item.signature) if item.signature else None
        return reasoning_item(item.id, item.text() if item.parts else None, sealed, status)

    def _added(self, item: _Item, out: list[bytes]) -> None:
        out.append(
            self._event(
                "response.output_item.added",
                {"output_index": item.index, "item": self._item(item, "in_progress")},
            )
        )

    def _done(self, item: _Item, out: list[bytes], status: Status = "completed") -> None:
        item.status = status
        out.append(
            self._event(
                "response.output_item.done",
                {"output_index": item.index, "item": self._item(item, status)},
            )
        )

    def _part(self, item: _Item, part: dict[str, Any]) -> dict[str, Any]:
        return {
            "item_id": item.id,
            "output_index": item.index,
            "content_index": len(item.parts) - 1,
            "part": part,
        }

    def _block_start(self, event: BlockStart, out: list[bytes]) -> None:
        self._start(out)
        if event.kind == "text":
            item = self._text_start(out)
        elif event.kind == "tool_use":
            item = self._tool_start(event, out)
        else:
            item = self._reasoning_start(event, out)
        self._blocks[event.index] = item

    def _text_start(self, out: list[bytes]) -> _Item:
        item = self._message
        if item is None:
            self._close_items(out)
            item = self._message = self._new_item("message")
            self._added(item, out)
        item.parts.append([])
        fields = self._part(item, output_text(""))
        out.append(self._event("response.content_part.added", fields))
        del fields["part"]
        item.head = _head("response.output_text.delta", fields)
        return item

    def _tool_start(self, event: BlockStart, out: list[bytes]) -> _Item:
        if self._message is not None:
            self._close_items(out)
        item = self._new_item("function_call")
        item.call_id = event.tool_id or self._ids("call")
        item.name = event.tool_name
        item.parts.append([])
        self._added(item, out)
        item.head = _head(
            "response.function_call_arguments.delta",
            {"item_id": item.id, "output_index": item.index},
        )
        self._tools.append(item)
        return item

    def _reasoning_start(self, event: BlockStart, out: list[bytes]) -> _Item:
        self._close_items(out)
        item = self._new_item("reasoning")
        if event.kind == "redacted_thinking":
            item.redacted = event.data
        self._added(item, out)
        if item.redacted is not None:
            return item
        item.parts.append([])
        fields = self._part(item, {"type": "reasoning_text", "text": ""})
        out.append(self._event("response.content_part.added", fields))
        del fields["part"]
        item.head = _head("response.reasoning_text.delta", fields)
        return item

    def _block_stop(self, index: int, out: list[bytes]) -> None:
        item = self._blocks.get(index)
        if item is None or item.kind == "function_call":
            return  # a call is finished with its run (a late fragment may still come)
        del self._blocks[index]
        if item.kind == "message":
            text = item.text()
            fields = self._part(item, output_text(text))
            done = {k: fields[k] for k in ("item_id", "output_index", "content_index")}
            out.append(
                self._event("response.output_text.done", {**done, "text": text, "logprobs": []})
            )
            out.append(self._event("response.content_part.done", fields))
            return
        if item.redacted is None:
            text = item.text()
            fields = self._part(item, {"type": "reasoning_text", "text": text})
            done = {k: fields[k] for k in ("item_id", "output_index", "content_index")}
            out.append(self._event("response.reasoning_text.done", {**done, "text": text}))
            out.append(self._event("response.content_part.done", fields))
        self._done(item, out, "incomplete" if self._cutting else "completed")

    def _close_items(self, out: list[bytes], *, cut: bool = False) -> None:
        """Finish the open message or the open run of calls; when the answer was ``cut``
        short, the last of them is the one it was cut in: ``incomplete``."""
        if self._message is not None:
            item, self._message = self._message, None
            self._done(item, out, "incomplete" if cut else "completed")
        for item in self._tools:
            _, name = self._names.split(item.name)
            fields = {"item_id": item.id, "name": name, "output_index": item.index}
            out.append(
                self._event(
                    "response.function_call_arguments.done", {**fields, "arguments": item.text()}
                )
            )
            last = item is self._tools[-1]
            self._done(item, out, "incomplete" if cut and last else "completed")
        self._tools.clear()
