"""Relaying a stream across dialects: an upstream's SSE in, the client's SSE out.

:class:`StreamTranslator` is the cross-dialect twin of the passthrough readers (same
duck type, so the pipeline's stream loop serves both): each upstream chunk is framed
into whole events, decoded by the upstream dialect's decoder into canonical events and
encoded by the client dialect's encoder at once, so the client sees every delta as soon
as the upstream sent it. Metering reads the upstream's own counts. Both ends come from
the dialects' records (``registry.py``), resolved once when the stream is opened.
"""

from __future__ import annotations

from typing import Any

from relaygate.relay.canonical import Usage
from relaygate.relay.dialects.decoding import UpstreamEvents
from relaygate.relay.dialects.record import StreamEncoder, StreamStart
from relaygate.relay.dialects.registry import dialect_of

__all__ = ["StreamTranslator"]


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
        decoder = dialect_of(upstream).codec().stream_decoder
        encoder = dialect_of(client).codec().stream_encoder
        if upstream == client or decoder is None or encoder is None:
            raise ValueError(f"no stream translation from {upstream!r} to {client!r}")
        start = StreamStart(
            model=model,
            request_id=request_id,
            include_usage=include_usage,
            input_estimate=input_estimate,
            created=created,
        )
        self._encoder: StreamEncoder = encoder(start)
        self._upstream = UpstreamEvents(decoder())
        self.usage: Usage | None = None
        self.content_events = 0
        self.delivered = 0  # estimated output tokens of the text relayed
        self.finished = False
        self.error: str | None = None

    @classmethod
    def opened(cls, upstream: str, client: str, start: StreamStart) -> StreamTranslator:
        """The translator for a stream opened with ``start`` (the codecs' entry)."""
        return cls(
            upstream,
            client,
            model=start.model,
            request_id=start.request_id,
            include_usage=start.include_usage,
            created=start.created,
            input_estimate=start.input_estimate,
        )

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
