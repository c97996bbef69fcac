"""Server-sent-event framing shared by every streamed dialect.

Upstream bytes arrive split anywhere: mid-line, mid-event, between the CR and LF of a
CRLF. :class:`SSEFramer` turns them into whole events (the ``event:`` name and the
joined ``data:`` lines) exactly once each, so a decoder parses each event's JSON once
and never sees a fragment. It also counts the bytes fed since the last blank line, which
lets a passthrough scanner release the upstream's own bytes at event boundaries without
re-scanning them. Lines may end in LF or CRLF; a lone CR as a line end (allowed by the
SSE spec, sent by no LLM API) is not recognised.

:class:`SSEPassthrough` is that release for the scanners that relay a stream unchanged,
and :func:`event_object` the one way every reader takes an event's JSON.
"""

from __future__ import annotations

from typing import Any

import orjson

__all__ = ["SSEFrame", "SSEFramer", "SSEPassthrough", "event_object"]

SSEFrame = tuple[bytes, bytes]  # (event name, data); the name is b"" when the event has none
_CR = 13


class SSEFramer:
    __slots__ = ("_data", "_name", "_tail", "held")

    def __init__(self) -> None:
        self._tail = b""  # an unterminated line
        self._name = b""
        self._data: list[bytes] = []  # the data lines of the event being read
        self.held = 0  # bytes fed since the last blank line: the incomplete event's bytes

    def feed(self, chunk: bytes) -> list[SSEFrame]:
        """The events completed by ``chunk``, in order."""
        buf = self._tail + chunk if self._tail else chunk
        frames: list[SSEFrame] = []
        pos, boundary = 0, -1
        find = buf.find
        while (nl := find(b"\n", pos)) >= 0:
            end = nl - 1 if nl > pos and buf[nl - 1] == _CR else nl
            if end == pos:
                boundary = nl + 1
                if self._data:
                    frames.append((self._name, b"\n".join(self._data)))
                    self._data = []
                self._name = b""
            elif buf.startswith(b"data: ", pos):  # the common case, without a call
                self._data.append(buf[pos + 6 : end])
            else:
                self._line(buf[pos:end])
            pos = nl + 1
        self._tail = buf[pos:]
        self.held = len(buf) - boundary if boundary >= 0 else self.held + len(chunk)
        return frames

    def close(self) -> list[SSEFrame]:
        """The last event when the stream ends without its blank line (some servers end
        on ``data: [DONE]`` with no newline); a cut-off event yields its fragment, which
        the decoder then fails to parse and ignores."""
        if self._tail:
            self._line(self._tail.removesuffix(b"\r"))
            self._tail = b""
        frames = [(self._name, b"\n".join(self._data))] if self._data else []
        self._data, self._name, self.held = [], b"", 0
        return frames

    def _line(self, line: bytes) -> None:
        field, _, value = line.partition(b":")
        if value[:1] == b" ":
            value = value[1:]
        if field == b"data":
            self._data.append(value)
        elif field == b"event":
            self._name = value
        # comments (``: keep-alive``), ``id:`` and ``retry:`` carry nothing we relay


def event_object(data: bytes) -> dict[str, Any] | None:
    """An event's data as the JSON object every dialect sends; None for anything else
    (the fragment of a cut-off event, ``[DONE]``), which readers skip."""
    try:
        event = orjson.loads(data)
    except orjson.JSONDecodeError:
        return None
    return event if isinstance(event, dict) else None


class SSEPassthrough:
    """A stream relayed as it came, released at event boundaries.

    The client gets the upstream's own bytes (nothing it relies on can be lost in a
    re-encoding) but never half an event: each call returns the bytes of the events
    completed so far, holding back the incomplete last one, together with those events,
    framed once, for the caller to meter.
    """

    __slots__ = ("_frames", "_held")

    def __init__(self) -> None:
        self._frames = SSEFramer()
        self._held = b""  # the bytes of the incomplete last event

    def feed(self, chunk: bytes) -> tuple[list[SSEFrame], bytes]:
        """The events ``chunk`` completes, and the bytes to forward."""
        frames = self._frames.feed(chunk)
        data = self._held + chunk if self._held else chunk
        cut = len(data) - self._frames.held
        if cut <= 0:
            self._held = data
            return frames, b""
        self._held = data[cut:]
        return frames, data[:cut] if self._held else data

    def close(self) -> tuple[list[SSEFrame], bytes]:
        """The upstream ended: a last event without its blank line, and what was held."""
        frames = self._frames.close()
        tail, self._held = self._held, b""
        return frames, tail
