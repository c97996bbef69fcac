"""Server-sent-event plumbing for relayed streams.

:class:`SSEScanner` sits between the upstream and the client: it forwards whole events
(as soon as each one is complete, never the whole answer), reads the upstream's own usage
chunk, and drops that chunk when the gateway asked for it on the client's behalf.
:class:`KeepAlive` sends an SSE comment on streams that have been silent for a while, so
proxies with idle limits (Cloudflare cuts at 100 s) keep them open; one ticker task
serves every stream, so a chunk costs only a timestamp update. Knowing every open
stream, it is also what ends them when a shutdown's grace runs out (:meth:`KeepAlive.end_streams`).
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
from relaygate.relay.dialects.delivered import CHAT_TEXT, COMPLETION_TEXT, decoded, estimate_tokens
from relaygate.relay.dialects.openai_chat.usage import read_usage, usage_object

__all__ = ["KeepAlive", "SSEScanner", "StreamWatch"]

log = logging.getLogger(__name__)

KEEPALIVE_FRAME = b": keep-alive\n\n"
_CHUNK_HEAD = ("id", "object", "created", "model", "system_fingerprint")
# A line of its own: inside an event's JSON a newline is always escaped, so "[DONE]" in
# generated text can never match.
_USAGE_OBJECT = re.compile(rb'"usage"\s*:\s*\{')
_DONE_LINES = re.compile(rb"^data: ?\[DONE\]\r?$", re.MULTILINE)
# a choice's last chunk (once per choice: the only chunks parsed for it)
_FINISH = re.compile(rb'"finish_reason"\s*:\s*"')


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


def _first_chunk(block: bytes) -> dict[str, Any]:
    """The first chunk in ``block`` (the stream's first events), or {}."""
    for event in re.split(rb"\r?\n\r?\n", block):
        try:
            chunk = orjson.loads(_data_of(event))
        except orjson.JSONDecodeError:
            continue
        if isinstance(chunk, dict):
            return chunk
    return {}


def _finished_choices(block: bytes) -> list[int]:
    """The indexes of the choices given a ``finish_reason`` in ``block``'s chunks."""
    ended = []
    for event in re.split(rb"\r?\n\r?\n", block):
        if not _FINISH.search(event):
            continue
        try:
            chunk = orjson.loads(_data_of(event))
        except orjson.JSONDecodeError:
            continue
        choices = chunk.get("choices") if isinstance(chunk, dict) else None
        for choice in choices if isinstance(choices, list) else []:
            if isinstance(choice, dict) and choice.get("finish_reason"):
                index = choice.get("index", 0)
                ended.append(index if isinstance(index, int) else 0)
    return ended


def _frame(chunk: dict[str, Any]) -> bytes:
    return b"data: " + orjson.dumps(chunk) + b"\n\n"


def _data_of(event: bytes) -> bytes:
    lines = [line[5:].strip() for line in event.splitlines() if line.startswith(b"data:")]
    return b"\n".join(lines)


class SSEScanner:
    """An OpenAI Chat Completions or legacy Completions stream relayed as it came.

    ``delivered`` is the estimated output tokens of the text forwarded so far (every
    choice's content, reasoning, refusal and tool-call arguments; ``text`` on the legacy
    route), read from the bytes whatever their JSON spacing and decoded, once per batch.
    """

    __slots__ = (
        "_choices",
        "_drop_usage_chunk",
        "_finishing",
        "_first",
        "_tail",
        "_text",
        "content_events",
        "delivered",
        "final_usage",
        "finished",
        "usage",
    )

    def __init__(self, drop_usage_chunk: bool, completions: bool = False, choices: int = 1) -> None:
        self._drop_usage_chunk = drop_usage_chunk
        self._text = COMPLETION_TEXT if completions else CHAT_TEXT
        self._choices = choices  # the ``n`` asked for: each ends when the stream is stopped
        self._finishing: list[bytes] = []  # the blocks in which a finish_reason went by
        self._tail = b""
        self._first = b""  # the first events forwarded: the stream's id, model, object
        self.usage: Usage | None = None
        self.content_events = 0
        self.delivered = 0
        self.finished = False  # the terminal ``data: [DONE]`` went by
        self.final_usage = False  # the usage chunk (``choices: []``, the last) went by

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
        if parts := self._text.findall(complete):  # every text field, "" included
            self.content_events += len(parts) - parts.count(b"")
            self.delivered += estimate_tokens(decoded(parts))
        if _FINISH.search(complete):  # read only if the stream is stopped (stop_at_limit)
            self._finishing.append(complete)
        if b"[DONE]" in complete and _has_done_line(complete):
            self.finished = True
        if not self._first and b'"id"' in complete:  # not a comment-only block
            self._first = complete
        return complete

    def stop_at_limit(self, usage: Usage) -> bytes:
        """End the stream as an output limit would: the last chunk of each choice not
        finished yet, with ``finish_reason: "length"``, the usage chunk if the client
        asked for one (the ``usage`` billed), then ``[DONE]``. What the upstream sent
        after is dropped."""
        if self.finished:
            return b""
        self.finished, self._tail = True, b""
        head = _first_chunk(self._first)
        legacy = head.get("object") == "text_completion"
        base: dict[str, Any] = {k: head[k] for k in _CHUNK_HEAD if k in head}
        frames = []
        ended = {index for block in self._finishing for index in _finished_choices(block)}
        for index in range(self._choices):
            if index in ended:
                continue
            choice: dict[str, Any] = {"index": index, "finish_reason": "length"}
            if legacy:
                choice.update(text="", logprobs=None)
            else:
                choice["delta"] = {}
            # with the usage chunk asked for, every other chunk says ``usage: null``
            tail = {} if self._drop_usage_chunk else {"usage": None}
            frames.append(_frame({**base, "choices": [choice], **tail}))
        if not self._drop_usage_chunk:
            frames.append(_frame({**base, "choices": [], "usage": usage_object(usage)}))
        return b"".join(frames) + b"data: [DONE]\n\n"

    @property
    def error(self) -> str | None:
        return None  # error events are not read here: Guarded watches them

    @property
    def response(self) -> dict[str, Any] | None:
        return None  # a chat stream: nothing is stored as a Response

    def fail(self, message: str) -> bytes | None:
        return None  # no terminal failure event in this dialect: an error frame ends it

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
        last = payload.get("choices") == []
        self.final_usage = self.final_usage or last
        return self._drop_usage_chunk and last


Send = Callable[[dict[str, Any]], Awaitable[None]]


class StreamWatch:
    __slots__ = ("closed", "ending", "last", "send", "task")

    def __init__(self, send: Send, task: asyncio.Task[Any] | None = None) -> None:
        self.send = send
        self.last = time.monotonic()
        self.closed = False
        self.task = task  # the stream's task, which a shutdown may end (None: it may not)
        self.ending = False  # set just before the task is cancelled by end_streams

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

    def watch(self, send: Send, task: asyncio.Task[Any] | None = None) -> StreamWatch:
        """Watch a stream for silence; with its ``task``, a shutdown may end it early."""
        stream = StreamWatch(send, task)
        self._streams.add(stream)
        return stream

    def end_streams(self) -> int:
        """End every open stream that gave its task: its loop sees ``ending`` and closes
        the stream with the dialect's ending, as an output limit would (the shutdown's
        deadline, core/drain.py). Returns how many were told."""
        told = 0
        for stream in list(self._streams):
            if stream.task is not None and not stream.closed and not stream.task.done():
                stream.ending = True
                stream.task.cancel()
                told += 1
        if told:
            log.warning("shutdown grace over: ending %d open stream(s)", told)
        return told

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
