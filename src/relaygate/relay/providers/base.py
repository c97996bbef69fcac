"""The provider contract.

A provider turns an :class:`UpstreamCall` into an :class:`UpstreamReply`, raising an
:class:`~relaygate.core.errors.UpstreamFailure` when the upstream cannot be reached or
breaks. It does not interpret the status: the relay service decides what a 4xx or 5xx
means for the caller. Streams are raw bytes, so a same-dialect call is passed through
byte for byte.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any, Protocol

from relaygate.channels.spec import ChannelSpec

__all__ = ["HeaderEdits", "Provider", "UpstreamCall", "UpstreamReply"]


@dataclass(frozen=True, slots=True)
class HeaderEdits:
    """The caller's override rules' changes to a call's upstream headers (lower-case
    names). Applied last, to the request as the provider built it, by
    ``providers.http.edit_headers``, which never lets them touch authentication or framing."""

    set: tuple[tuple[str, str], ...] = ()
    remove: frozenset[str] = frozenset()


@dataclass(slots=True)
class UpstreamCall:
    endpoint: str  # path below the channel's base URL, e.g. "chat/completions"
    payload: dict[str, Any]  # the body as parsed (and possibly rewritten) by the relay
    body: bytes  # the exact bytes to send
    stream: bool
    request_id: str
    # Extra request headers chosen by the relay (e.g. the caller's ``anthropic-beta``);
    # providers strip CR/LF from them and never let them replace auth or framing headers.
    headers: tuple[tuple[str, str], ...] = ()
    # The body's media type: JSON, except for the multipart uploads of the media routes.
    content_type: str = "application/json"
    key_index: int = 0  # which of the channel's keys (ChannelSpec.keys) this attempt uses
    # The caller's strict response schema, which a whole translated answer must validate
    # against before it is relayed (relay/structured.py); None: nothing to check.
    answer_schema: dict[str, Any] | None = None
    # the caller's override rules' header changes (docs/rules.md); None: none
    header_edits: HeaderEdits | None = None


class UpstreamReply(Protocol):
    status: int
    content_type: str

    async def read(self) -> bytes:
        """The whole body (non-streaming calls and error replies)."""

    def chunks(self) -> AsyncIterator[bytes]:
        """The body as it arrives."""

    def close(self) -> None:
        """Release the connection; a half-read stream is aborted, never reused."""

    def header(self, name: bytes) -> bytes | None:
        """A response header by lower-case name (``retry-after`` on a 429)."""


class Provider(Protocol):
    """How one channel type reaches its upstream (module doc). Kept to a single
    ``send`` so a new upstream is one module and a registry line, and so the relay
    service, not each provider, decides failover, masking and what a status means."""

    async def send(self, channel: ChannelSpec, call: UpstreamCall) -> UpstreamReply: ...
