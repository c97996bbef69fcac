"""Dialect-neutral stream events: what a streamed answer *says*, without its wire form.

A stream decoder turns one dialect's server-sent events into these, a stream encoder
turns them into another dialect's events, so two dialects need two decoders and two
encoders rather than a translator per pair.

The shape follows the richer of the two dialects (Anthropic's content blocks): a stream
is a ``MessageStart``, then blocks (``BlockStart``, deltas, ``BlockStop``) with
consecutive indexes starting at 0, then one or more ``MessageDelta`` (the stop reason
and cumulative usage) and a ``MessageStop``. A ``StreamError`` may come at any point
and ends the stream. Decoders guarantee that order, so encoders can map events one by
one without re-checking it.

Stop reasons are the canonical :data:`~relaygate.relay.canonical.StopReason`, the one
set the complete answer uses too: Anthropic's vocabulary, which distinguishes more
cases than OpenAI's ``finish_reason`` (a stop sequence from a natural end, a paused
turn, a refusal).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from relaygate.relay.canonical import StopReason, Usage

__all__ = [
    "BlockKind",
    "BlockStart",
    "BlockStop",
    "MessageDelta",
    "MessageStart",
    "MessageStop",
    "SignatureDelta",
    "StopReason",
    "StreamError",
    "StreamEvent",
    "TextDelta",
    "ThinkingDelta",
    "ToolArgsDelta",
]

BlockKind = Literal["text", "thinking", "redacted_thinking", "tool_use"]


@dataclass(slots=True, frozen=True)
class MessageStart:
    """The answer begins. ``usage`` is what the upstream knew up front (Anthropic sends
    the input count here; OpenAI sends nothing until the end, hence None)."""

    id: str
    model: str
    usage: Usage | None = None


@dataclass(slots=True, frozen=True)
class BlockStart:
    """A content block opens. ``data`` is a redacted thinking block's opaque payload,
    which arrives whole in the start event and never in deltas."""

    index: int
    kind: BlockKind
    tool_id: str = ""
    tool_name: str = ""
    data: str = ""


@dataclass(slots=True, frozen=True)
class TextDelta:
    index: int
    text: str


@dataclass(slots=True, frozen=True)
class ThinkingDelta:
    index: int
    thinking: str


@dataclass(slots=True, frozen=True)
class SignatureDelta:
    """The thinking block's signature; clients send it back on the next turn, so it is
    carried intact wherever the client dialect can hold it."""

    index: int
    signature: str


@dataclass(slots=True, frozen=True)
class ToolArgsDelta:
    """A fragment of a tool call's JSON arguments; only the concatenation parses."""

    index: int
    partial_json: str


@dataclass(slots=True, frozen=True)
class BlockStop:
    index: int


@dataclass(slots=True, frozen=True)
class MessageDelta:
    """Why the answer stopped, with the usage known so far (cumulative, not a delta)."""

    stop_reason: StopReason
    stop_sequence: str | None = None
    usage: Usage | None = None


@dataclass(slots=True, frozen=True)
class MessageStop:
    pass


@dataclass(slots=True, frozen=True)
class StreamError:
    """The upstream failed after the stream had begun. ``type`` is the upstream's own
    error type; encoders map it to their dialect's vocabulary."""

    type: str
    message: str


StreamEvent = (
    MessageStart
    | BlockStart
    | TextDelta
    | ThinkingDelta
    | SignatureDelta
    | ToolArgsDelta
    | BlockStop
    | MessageDelta
    | MessageStop
    | StreamError
)
