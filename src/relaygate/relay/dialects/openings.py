"""How each dialect's stream must begin: the test a stream's first event passes before
anything of it reaches the client.

Why: while no byte has gone out, a channel that answers 200 and then sends garbage (an
HTML error page, a truncated line, an error object where a chunk belongs) can still be
failed over to the next channel. Once the first event is relayed that chance is gone,
so the gateway holds a stream back until its first event has arrived and been judged
here. The tests look only at what every genuine stream of the dialect starts with
(wire-formats.md, stream-events.json); what follows is the readers' business.

Each test takes one SSE event (its ``event:`` name and joined ``data:``) and answers
:data:`VALID`, :data:`INVALID`, or :data:`WAIT` for an event a genuine stream may send
before its first real one (Anthropic's ``ping``).
"""

from __future__ import annotations

from collections.abc import Callable
from enum import Enum

from relaygate.relay.dialects.sse import event_object

__all__ = [
    "INVALID",
    "VALID",
    "WAIT",
    "Opening",
    "OpeningTest",
    "chat_opening",
    "messages_opening",
    "responses_opening",
]


class Opening(Enum):
    VALID = "valid"
    INVALID = "invalid"
    WAIT = "wait"  # not an answer yet, not a failure either: read the next event


VALID, INVALID, WAIT = Opening.VALID, Opening.INVALID, Opening.WAIT

OpeningTest = Callable[[bytes, bytes], Opening]  # (event name, data) -> the verdict

# The first events a Responses stream may begin with (``response.created`` in every
# stream OpenAI sends; the other two name the same Response in a later state).
_RESPONSES_FIRST = frozenset({"response.created", "response.in_progress", "response.queued"})


def chat_opening(name: bytes, data: bytes) -> Opening:
    """Chat Completions (and legacy Completions): a chunk object with a ``choices`` list,
    never an ``error`` object or ``[DONE]`` before any chunk."""
    event = event_object(data)
    if event is None or event.get("error") or name == b"error":
        return INVALID
    return VALID if isinstance(event.get("choices"), list) else INVALID


def messages_opening(name: bytes, data: bytes) -> Opening:
    """Anthropic Messages: ``message_start`` with its message; ``ping`` may come first;
    an ``error`` event (or anything else) first is a failed answer."""
    event = event_object(data)
    kind = event.get("type") if event is not None else None
    if kind == "ping" and name in (b"", b"ping"):
        return WAIT
    if kind == "message_start" and name in (b"", b"message_start"):
        return VALID if event is not None and isinstance(event.get("message"), dict) else INVALID
    return INVALID


def responses_opening(name: bytes, data: bytes) -> Opening:
    """Responses: ``response.created`` carrying the Response object."""
    event = event_object(data)
    if event is None or event.get("type") not in _RESPONSES_FIRST:
        return INVALID
    return VALID if isinstance(event.get("response"), dict) else INVALID
