"""An upstream's stream as canonical events, whatever its dialect.

Every translated stream starts the same way, whichever dialect the client gets: the
upstream's bytes are framed into whole events, the upstream dialect's decoder turns
each into canonical events, and nothing after the upstream's terminal event (or error)
is read. :class:`UpstreamEvents` does that once, for the Chat/Messages translator
(``dialects.translated_stream``) and the Responses one (``openai_responses.stream``), so
both end a stream, or leave it unfinished, by the same rule.
"""

from __future__ import annotations

from typing import Protocol

from relaygate.core.tokens import estimate_tokens
from relaygate.relay.canonical import Usage
from relaygate.relay.canonical.stream import StreamEvent
from relaygate.relay.dialects.delivered import canonical_text
from relaygate.relay.dialects.sse import SSEFramer

__all__ = ["StreamDecoder", "UpstreamEvents"]


class StreamDecoder(Protocol):
    """One dialect's events (the ``data`` of each) to canonical events, for one stream.

    ``usage`` is the upstream's own count so far (what metering bills), ``content_events``
    the deltas that carried content, ``finished`` whether the terminal event or an error
    went by, ``error`` the upstream's message for an error."""

    content_events: int
    finished: bool
    error: str | None

    @property
    def usage(self) -> Usage | None: ...

    def decode(self, data: bytes, out: list[StreamEvent]) -> None: ...

    def close(self, out: list[StreamEvent]) -> bool:
        """The upstream ended without its terminal event: end the message if the answer
        was whole (True), else leave it unfinished for the caller to fail."""
        ...

    def limit(self, out: list[StreamEvent], usage: Usage) -> None:
        """End the message here as its output limit would (the open blocks stopped, stop
        reason ``max_tokens`` with ``usage``); nothing once it has finished."""
        ...


class UpstreamEvents:
    """Upstream bytes, split anywhere, to the canonical events of the whole events in them.

    ``decoder`` is the dialect's decoder; the caller reads the stream's state from it.
    ``delivered`` is the estimated output tokens of the text decoded so far (each
    batch's text estimated once, see ``dialects.delivered``)."""

    __slots__ = ("_frames", "decoder", "delivered")

    def __init__(self, decoder: StreamDecoder) -> None:
        self._frames = SSEFramer()
        self.decoder = decoder
        self.delivered = 0

    def feed(self, chunk: bytes) -> list[StreamEvent]:
        events: list[StreamEvent] = []
        decoder = self.decoder
        for _, data in self._frames.feed(chunk):
            decoder.decode(data, events)
            if decoder.finished:  # nothing after the terminal event is relayed
                break
        if events and (text := canonical_text(events)):
            self.delivered += estimate_tokens(text)
        return events

    def limit(self, usage: Usage) -> list[StreamEvent]:
        """The events that end the message at its output limit (see ``StreamDecoder``)."""
        events: list[StreamEvent] = []
        self.decoder.limit(events, usage)
        return events

    def close(self) -> list[StreamEvent]:
        """The upstream connection ended: a last event without its blank line, then the
        end of the message if the answer was complete (its stop reason came, its
        terminal event did not). An unfinished answer gets no invented ending."""
        events: list[StreamEvent] = []
        decoder = self.decoder
        for _, data in self._frames.close():
            decoder.decode(data, events)
            if decoder.finished:
                break
        if not decoder.finished:
            decoder.close(events)
        if events and (text := canonical_text(events)):
            self.delivered += estimate_tokens(text)
        return events
