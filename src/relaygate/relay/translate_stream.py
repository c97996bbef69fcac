"""Relaying a stream across dialects: an upstream's SSE in, the client's SSE out.

:class:`StreamTranslator` is the cross-dialect twin of
:class:`relaygate.relay.streaming.SSEScanner` (same duck type, so the pipeline's stream
loop serves both): each upstream chunk is framed into whole events, decoded into
canonical events and encoded in the client's dialect at once, so the client sees every
delta as soon as the upstream sent it. Metering reads the upstream's own counts.
"""

from __future__ import annotations

import time
from typing import Any, Literal, Protocol

from relaygate.relay.canonical import Usage
from relaygate.relay.canonical.stream import StreamEvent
from relaygate.relay.dialects.anthropic_messages.stream import AnthropicStreamEncoder
from relaygate.relay.dialects.decoding import DECODERS, UpstreamEvents
from relaygate.relay.dialects.openai_chat.stream import OpenAIChatStreamEncoder

__all__ = ["StreamTranslator"]

Dialect = Literal["openai", "anthropic"]


class _Encoder(Protocol):
    def encode(self, events: list[StreamEvent]) -> bytes: ...


class StreamTranslator:
    """Translate one upstream stream for one client.

    ``finished`` turns True on the upstream's terminal event (``data: [DONE]`` or
    ``message_stop``) or an error event; the bytes of that ``feed`` end with the
    client's terminal event (or its error frame), and later input is ignored.
    ``flush`` closes a stream whose upstream finished its answer but not its stream.
    ``input_estimate`` (the local count of the request's input tokens) stands in for
    the input count an Anthropic caller's ``message_start`` carries when the upstream
    reports usage only at the end; its ``message_delta`` then carries the real count.
    """

    __slots__ = (
        "_encoder",
        "_upstream",
        "content_events",
        "delivered",
        "error",
        "finished",
        "usage",
    )

    def __init__(
        self,
        upstream: str,
        client: str,
        *,
        model: str,
        request_id: str,
        include_usage: bool = False,
        created: int | None = None,
        input_estimate: int = 0,
    ) -> None:
        self._encoder: _Encoder
        if (upstream, client) == ("openai", "anthropic"):
            self._encoder = AnthropicStreamEncoder(
                model=model, request_id=request_id, input_estimate=input_estimate
            )
        elif (upstream, client) == ("anthropic", "openai"):
            self._encoder = OpenAIChatStreamEncoder(
                model=model,
                request_id=request_id,
                include_usage=include_usage,
                created=int(time.time()) if created is None else created,
            )
        else:
            raise ValueError(f"no stream translation from {upstream!r} to {client!r}")
        self._upstream = UpstreamEvents(DECODERS[upstream]())
        self.usage: Usage | None = None
        self.content_events = 0
        self.delivered = 0  # estimated output tokens of the text relayed
        self.finished = False
        self.error: str | None = None

    def feed(self, chunk: bytes) -> bytes:
        """Upstream bytes, split anywhere; the client's bytes for the events completed."""
        if self.finished:
            return b""
        events = self._upstream.feed(chunk)
        self._sync()
        return self._encoder.encode(events) if events else b""

    @property
    def response(self) -> dict[str, Any] | None:
        return None  # a chat or Messages stream: nothing is stored as a Response

    @property
    def final_usage(self) -> bool:
        return False  # whole only on the client dialect's own terminal event

    def fail(self, message: str) -> bytes | None:
        return None  # no terminal failure event in these dialects: an error frame ends it

    def flush(self) -> bytes:
        """The upstream connection ended. Close the client's stream if the upstream's
        answer was complete (its stop reason came, its terminal event did not); else
        return only what a last unterminated but whole event held (usually b""), and
        the caller appends its own error frame."""
        if self.finished:
            return b""
        events = self._upstream.close()
        self._sync()
        return self._encoder.encode(events) if events else b""

    def stop_at_limit(self, usage: Usage) -> bytes:
        """End the client's stream as its output limit would (``usage``: what is billed)."""
        if self.finished:
            return b""
        events = self._upstream.limit(usage)
        self._sync()
        return self._encoder.encode(events)

    def _sync(self) -> None:
        decoder = self._upstream.decoder
        self.usage = decoder.usage
        self.delivered = self._upstream.delivered
        self.content_events = decoder.content_events
        self.finished = decoder.finished
        self.error = decoder.error
