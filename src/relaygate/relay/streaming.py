"""Server-sent-event plumbing for relayed streams.

:class:`SSEScanner` sits between the upstream and the client: it forwards whole events
(as soon as each one is complete, never the whole answer), reads the upstream's own usage
chunk, and drops that chunk when the gateway asked for it on the client's behalf.
:class:`KeepAlive` sends an SSE comment on streams that have been silent for a while, so
proxies with idle limits (Cloudflare cuts at 100 s) keep them open; one ticker task
serves every stream, so a chunk costs only a timestamp update.
"""

from __future__ import annotations

import asyncio
import logging
import re
import time
from collections.abc import Awaitable, Callable
from typing import Any

import orjson

from relaygate.core.tasks import cancel_and_wait
from relaygate.relay.canonical import Usage
from relaygate.relay.dialects.openai_chat.usage import read_usage

__all__ = ["KeepAlive", "SSEScanner", "StreamWatch"]

log = logging.getLogger(__name__)

KEEPALIVE_FRAME = b": keep-alive\n\n"
# (a delta with text, the same delta empty): a stream's first chunk carries "content":""
_CONTENT_MARKERS = (
    (b'"content":"', b'"content":""'),
    (b'"text":"', b'"text":""'),
    (b'"arguments":"', b'"arguments":""'),
)
# A line of its own: inside an event's JSON a newline is always escaped, so "[DONE]" in
# generated text can never match.
_USAGE_OBJECT = re.compile(rb'"usage"\s*:\s*\{')
_DONE_LINES = re.compile(rb"^data: ?\[DONE\]\r?$", re.MULTILINE)


def _event_end(data: bytes) -> int:
    """Index just past the last complete event in ``data``, or -1."""
    lf = data.rfind(b"\n\n")
    crlf = data.rfind(b"\r\n\r\n")
    return max(lf + 2 if lf >= 0 else -1, crlf + 4 if crlf >= 0 else -1)


def _has_done_line(data: bytes) -> bool:
    """A ``data: [DONE]`` line of its own. Inside an event's JSON a newline is always
    escaped, so "[DONE]" in generated text never stands on a line alone."""
    at = data.rfind(b"[DONE]")
    while at >= 0:
        start = data.rfind(b"\n", 0, at) + 1
        after = data[at + 6 : at + 8]
        if data[start:at] in (b"data: ", b"data:") and after[:1] in (b"\n", b"\r", b""):
            return True
        at = data.rfind(b"[DONE]", 0, at)
    return False


def _event_bounds(data: bytes, inside: int) -> tuple[int, int]:
    """Start and end (past its blank line) of the event containing index ``inside``."""
    lf, crlf = data.rfind(b"\n\n", 0, inside), data.rfind(b"\r\n\r\n", 0, inside)
    start = max(lf + 2 if lf >= 0 else 0, crlf + 4 if crlf >= 0 else 0)
    ends = [
        i + n
        for i, n in ((data.find(b"\n\n", inside), 2), (data.find(b"\r\n\r\n", inside), 4))
        if i >= 0
    ]
    return start, min(ends) if ends else len(data)


def _data_of(event: bytes) -> bytes:
    lines = [line[5:].strip() for line in event.splitlines() if line.startswith(b"data:")]
    return b"\n".join(lines)


class SSEScanner:
    __slots__ = ("_drop_usage_chunk", "_tail", "content_events", "finished", "usage")

    def __init__(self, drop_usage_chunk: bool) -> None:
        self._drop_usage_chunk = drop_usage_chunk
        self._tail = b""
        self.usage: Usage | None = None
        self.content_events = 0
        self.finished = False  # the terminal ``data: [DONE]`` went by

    def feed(self, chunk: bytes) -> bytes:
        """Take upstream bytes; return the complete events ready to forward."""
        data = self._tail + chunk if self._tail else chunk
        end = _event_end(data)
        if end < 0:
            self._tail = data
            return b""
        complete, self._tail = data[:end], data[end:]
        if b'"usage"' in complete:
            complete = self._scan_usage(complete)
        for marker, empty in _CONTENT_MARKERS:
            self.content_events += complete.count(marker) - complete.count(empty)
        if b"[DONE]" in complete and _has_done_line(complete):
            self.finished = True
        return complete

    def flush(self) -> bytes:
        """Whatever is left when the upstream ends (an unterminated last event)."""
        tail, self._tail = self._tail, b""
        return tail

    def _scan_usage(self, complete: bytes) -> bytes:
        """Meter the event that carries a usage object (``"usage": null`` is skipped
        without parsing); drop it when the gateway asked for it on the client's behalf."""
        spans = {_event_bounds(complete, m.start()) for m in _USAGE_OBJECT.finditer(complete)}
        kept, cursor = [], 0
        for start, end in sorted(spans):  # in stream order: the last count read wins
            if self._take_usage(complete[start:end]):
                kept.append(complete[cursor:start])
                cursor = end
        return b"".join([*kept, complete[cursor:]]) if cursor else complete

    def _take_usage(self, event: bytes) -> bool:
        """Record the usage in ``event``; True when the event should be dropped."""
        try:
            payload: Any = orjson.loads(_data_of(event))
        except orjson.JSONDecodeError:
            return False
        usage = read_usage(payload)
        if usage is None:
            return False
        self.usage = usage
        return self._drop_usage_chunk and payload.get("choices") == []


Send = Callable[[dict[str, Any]], Awaitable[None]]


class StreamWatch:
    __slots__ = ("closed", "last", "send")

    def __init__(self, send: Send) -> None:
        self.send = send
        self.last = time.monotonic()
        self.closed = False

    async def ping(self) -> None:
        if self.closed:
            return
        try:
            await self.send(
                {"type": "http.response.body", "body": KEEPALIVE_FRAME, "more_body": True}
            )
        except Exception:  # the client is gone; the stream's own loop notices and settles
            log.debug("keep-alive send failed", exc_info=True)


class KeepAlive:
    def __init__(self, interval: float) -> None:
        self.interval = interval
        self._streams: set[StreamWatch] = set()
        self._pings: set[asyncio.Task[None]] = set()
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        if self.interval > 0:
            self._task = asyncio.create_task(self._run(), name="sse-keepalive")

    async def stop(self) -> None:
        await cancel_and_wait(self._task)

    def watch(self, send: Send) -> StreamWatch:
        stream = StreamWatch(send)
        self._streams.add(stream)
        return stream

    def release(self, stream: StreamWatch) -> None:
        stream.closed = True
        self._streams.discard(stream)

    async def _run(self) -> None:
        tick = max(self.interval / 4, 0.05)
        while True:
            await asyncio.sleep(tick)
            now = time.monotonic()
            for stream in list(self._streams):
                if now - stream.last >= self.interval:
                    stream.last = now
                    task = asyncio.create_task(stream.ping())
                    self._pings.add(task)
                    task.add_done_callback(self._pings.discard)
