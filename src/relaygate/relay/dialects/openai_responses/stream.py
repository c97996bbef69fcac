"""Responses streams to a Responses client: translated from another dialect, or relayed.

:class:`ResponsesTranslator` serves ``POST /v1/responses`` from a Chat Completions or
Anthropic channel: it frames the upstream's bytes into events, decodes them with that
dialect's decoder into canonical events and encodes those at once
(:class:`~relaygate.relay.dialects.openai_responses.encoder.ResponsesStreamEncoder`),
so each delta reaches the client as soon as the upstream sent it.

:class:`ResponsesScanner` serves it from a native Responses upstream: the bytes go out
as they came (whole events only) and are only read to meter the call and to keep the
final Response, which the gateway stores.

Both have the duck type of :class:`relaygate.relay.dialects.translated_stream.StreamTranslator`
(``feed``, ``flush``, ``usage``, ``content_events``, ``finished``, ``error``), plus
``response``: the final Response object once ``finished``.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable
from typing import Any

import orjson

from relaygate.core.tokens import estimate_tokens
from relaygate.relay.canonical import Usage
from relaygate.relay.dialects.decoding import UpstreamEvents
from relaygate.relay.dialects.delivered import RESPONSES_DELTA, decoded
from relaygate.relay.dialects.openai_responses.cut import TEXT_DONE, OpenItems
from relaygate.relay.dialects.openai_responses.encoder import ResponsesStreamEncoder
from relaygate.relay.dialects.openai_responses.output import (
    IdFactory,
    finished_response,
    new_id,
    read_usage,
)
from relaygate.relay.dialects.sse import SSEPassthrough, event_object

__all__ = ["ResponsesScanner", "ResponsesStreamEncoder", "ResponsesTranslator"]


class ResponsesTranslator:
    """Translate one upstream stream (``"openai"`` chat chunks or ``"anthropic"``
    events) into the Responses events of the response ``response_template`` describes.

    ``finished`` turns True on the upstream's terminal event (or error); the bytes of
    that ``feed`` end with ``response.completed`` / ``response.incomplete`` /
    ``response.failed``. ``flush`` closes a stream whose upstream finished its answer
    but not its stream; for one that broke off, the gateway ends the client's stream
    with :meth:`fail`, a ``response.failed`` numbered in sequence.
    """

    __slots__ = (
        "_encoder",
        "_upstream",
        "content_events",
        "delivered",
        "error",
        "finished",
        "response",
        "usage",
    )

    def __init__(
        self,
        upstream: str,
        *,
        response_template: dict[str, Any],
        ids: IdFactory = new_id,
        clock: Callable[[], float] = time.time,
    ) -> None:
        from relaygate.relay.dialects.registry import dialect_of

        decoder = dialect_of(upstream).codec().stream_decoder
        if decoder is None:
            raise ValueError(f"no Responses stream translation from {upstream!r}")
        self._upstream = UpstreamEvents(decoder())
        self._encoder = ResponsesStreamEncoder(
            response_template=response_template, ids=ids, clock=clock
        )
        self.usage: Usage | None = None
        self.content_events = 0
        self.delivered = 0  # estimated output tokens of the text relayed
        self.finished = False
        self.error: str | None = None
        self.response: dict[str, Any] | None = None

    def feed(self, chunk: bytes) -> bytes:
        """Upstream bytes, split anywhere; the client's bytes for the events completed."""
        if self.finished:
            return b""
        events = self._upstream.feed(chunk)
        out = self._encoder.encode(events) if events else b""
        self._sync()
        return out

    def stop_at_limit(self, usage: Usage) -> bytes:
        """End the response as its output limit would: ``response.incomplete`` (reason
        ``max_output_tokens``), the items so far closed, ``usage`` (what is billed)."""
        if self.finished:
            return b""
        out = self._encoder.limit(self._upstream.limit(usage))
        self._sync()
        return out

    @property
    def final_usage(self) -> bool:
        return False  # a Responses stream is whole only on its terminal event

    def flush(self) -> bytes:
        """The upstream connection ended: close the client's stream if the answer was
        complete (its stop reason came, its terminal event did not), else return only
        what a last unterminated but whole event held."""
        if self.finished:
            return b""
        events = self._upstream.close()
        out = self._encoder.encode(events) if events else b""
        self._sync()
        return out

    def fail(self, message: str, code: str = "server_error") -> bytes:
        """``response.failed`` for a stream the upstream broke off; b"" once ended."""
        out = self._encoder.fail(message, code)
        self.response = self._encoder.response
        return out

    def _sync(self) -> None:
        decoder = self._upstream.decoder
        self.usage = decoder.usage
        self.delivered = self._upstream.delivered
        self.content_events = decoder.content_events
        self.finished = decoder.finished
        self.error = decoder.error
        self.response = self._encoder.response


_TERMINAL = frozenset({"response.completed", "response.incomplete", "response.failed"})
_DELTAS = frozenset(
    {
        "response.output_text.delta",
        "response.refusal.delta",
        "response.function_call_arguments.delta",
        "response.custom_tool_call_input.delta",
        "response.reasoning_text.delta",
        "response.reasoning_summary_text.delta",
    }
)


_DELTA_NAMES = frozenset(name.encode() for name in _DELTAS)
# parsed whole: the terminal events, and those the stop at the output limit needs (the
# Response as created, the items and parts added and finished: ``cut.OpenItems``)
_LIFECYCLE = frozenset(
    {
        "response.output_item.added",
        "response.output_item.done",
        "response.content_part.added",
        "response.content_part.done",
        "response.reasoning_summary_part.added",
        "response.reasoning_summary_part.done",
        *TEXT_DONE,
    }
)
_KEPT = ("response.created", "response.in_progress", *_LIFECYCLE)
_PARSED_NAMES = frozenset(name.encode() for name in (*_TERMINAL, *_KEPT, "error"))
_SEQUENCE = re.compile(rb'"sequence_number"\s*:\s*(\d+)')


class ResponsesScanner:
    """Meter a native Responses stream relayed unchanged.

    Only whole events are forwarded (the incomplete last one is held back). Deltas are
    counted from their ``event:`` line without parsing; the lifecycle events are parsed,
    and the terminal one (``response.completed`` / ``incomplete`` / ``failed``) gives
    the usage, ``finished`` and ``response``; ``response.failed`` and ``error`` set
    ``error``. An event without an ``event:`` line is parsed to find its type.
    """

    __slots__ = (
        "_last",
        "_output",
        "_relay",
        "_started",
        "_text",
        "content_events",
        "delivered",
        "error",
        "finished",
        "response",
        "usage",
    )

    def __init__(self) -> None:
        self._relay = SSEPassthrough()
        self._started: dict[str, Any] | None = None  # the Response as created
        self._output = OpenItems()  # the items and parts added, finished, in progress
        self._text: list[bytes] = []  # the raw delta text of the events being read
        self._last = b""  # the last event's data: its sequence number
        self.usage: Usage | None = None
        self.content_events = 0
        self.delivered = 0  # estimated output tokens of the deltas forwarded
        self.finished = False
        self.error: str | None = None
        self.response: dict[str, Any] | None = None

    def feed(self, chunk: bytes) -> bytes:
        """Take upstream bytes; return the complete events in them, unchanged."""
        frames, out = self._relay.feed(chunk)
        for name, data in frames:
            self._meter(name, data)
        if self._text:
            self._delivered()
        return out

    @property
    def final_usage(self) -> bool:
        return False  # a Responses stream is whole only on its terminal event

    def fail(self, message: str) -> bytes | None:
        return None  # relayed as it came: an error frame ends a broken-off stream

    def flush(self) -> bytes:
        """What is left when the upstream ends: an event without its blank line."""
        frames, tail = self._relay.close()
        for name, data in frames:
            self._meter(name, data)
        if self._text:
            self._delivered()
        return tail

    def stop_at_limit(self, usage: Usage) -> bytes:
        """End the response as its output limit would (``cut.OpenItems``): the parts
        and items in progress finished with all their text, the items ``incomplete``,
        then ``response.incomplete`` (reason ``max_output_tokens``) with every item and
        the usage billed; numbered on from the upstream's last event."""
        if self.finished:
            return b""
        self.finished = True
        found = _SEQUENCE.findall(self._last)
        number = int(found[-1]) + 1 if found else None
        frames = [_frame(event) for event in self._output.close(number)]
        template = self._started or {"object": "response", "output": []}
        response = finished_response(
            template, list(self._output.finished), stop_reason="max_tokens", usage=usage,
            completed_at=0,
        )  # fmt: skip
        self.response = response
        ending: dict[str, Any] = {"type": "response.incomplete", "response": response}
        if number is not None:
            ending["sequence_number"] = number + len(frames)
        frames.append(_frame(ending))
        return b"".join(frames)

    def _delivered(self) -> None:
        self.delivered += estimate_tokens(decoded(self._text))
        self._text = []

    def _meter(self, name: bytes, data: bytes) -> None:
        self._last = data
        if name in _DELTA_NAMES:
            if (found := RESPONSES_DELTA.search(data)) is not None and found.group(1):
                self.content_events += 1
                self._text.append(found.group(1))
                self._output.delta(found.group(1))
            return
        if name and name not in _PARSED_NAMES:
            return  # item and part events: nothing to meter
        if (event := event_object(data)) is not None:
            self._event(event)

    def _event(self, event: dict[str, Any]) -> None:
        kind = event.get("type")
        if kind in _DELTAS:  # only without an event: line
            if (delta := event.get("delta")) and isinstance(delta, str):
                self.content_events += 1
                self._text.append(orjson.dumps(delta)[1:-1])
                self._output.delta(self._text[-1])
        elif kind in ("response.created", "response.in_progress"):
            if isinstance(response := event.get("response"), dict):
                self._started = response
        elif kind in _LIFECYCLE:
            self._output.event(kind, event)
        elif kind in _TERMINAL:
            response = event.get("response")
            if isinstance(response, dict):
                self.response = response
                self.usage = read_usage(response) or self.usage
            self.finished = True
            if kind == "response.failed":
                self.error = _message(response.get("error") if isinstance(response, dict) else None)
        elif kind == "error":
            self.error = _message(event)
            self.finished = True


def _frame(event: dict[str, Any]) -> bytes:
    name = str(event["type"]).encode()
    return b"event: " + name + b"\ndata: " + orjson.dumps(event) + b"\n\n"


def _message(error: Any) -> str:
    message = error.get("message") if isinstance(error, dict) else None
    return message if isinstance(message, str) and message else "The upstream response failed"
