"""The two client-facing dialects, as the pipeline sees them.

Everything the pipeline does differently for an OpenAI and an Anthropic caller (checking
the body, the error format, where the usage is, what caps the output, which rate-limit
headers and request-id header go out, how a model the key may not use is refused) is one
:class:`Wire` value, so the pipeline itself has no ``if dialect == ...`` branches. Which
dialect an upstream channel speaks is :func:`channel_dialect`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from relaygate.channels.spec import ChannelSpec
from relaygate.core.error_formats import ErrorFormat
from relaygate.core.errors import ClientError, ModelNotPermitted, PermissionDenied, RelaygateError
from relaygate.limits.headers import Dialect
from relaygate.relay.canonical import Usage
from relaygate.relay.dialects import ANTHROPIC, OPENAI, RESPONSES
from relaygate.relay.dialects.anthropic_messages import errors as anthropic_errors
from relaygate.relay.dialects.anthropic_messages import request as anthropic_request
from relaygate.relay.dialects.anthropic_messages.usage import read_usage as anthropic_usage
from relaygate.relay.dialects.openai_chat import errors as openai_errors
from relaygate.relay.dialects.openai_chat import limits as openai_limits
from relaygate.relay.dialects.openai_chat.request import RequestFacts, inspect
from relaygate.relay.dialects.openai_chat.usage import read_usage as openai_usage
from relaygate.relay.dialects.openai_responses import request as responses_request
from relaygate.relay.dialects.openai_responses.output import read_usage as responses_usage
from relaygate.relay.dialects.openings import (
    OpeningTest,
    chat_opening,
    messages_opening,
    responses_opening,
)

__all__ = [
    "ANTHROPIC_WIRE",
    "OPENAI_WIRE",
    "RESPONSES_WIRE",
    "Wire",
    "call_dialect",
    "channel_dialect",
    "wire_of",
]

# channel type -> the dialect its upstream speaks (anything unknown is OpenAI-compatible)
_CHANNEL_DIALECTS = {"anthropic": ANTHROPIC}


def channel_dialect(channel_type: str) -> str:
    return _CHANNEL_DIALECTS.get(channel_type, OPENAI)


def call_dialect(channel: ChannelSpec, client: str) -> str:
    """The dialect a call is sent to ``channel`` in: its own, or Responses for a
    Responses caller when the upstream serves that API itself."""
    if client == RESPONSES and channel.responses_api:
        return RESPONSES
    return _CHANNEL_DIALECTS.get(channel.type, OPENAI)


@dataclass(frozen=True, slots=True)
class Wire:
    name: str  # OPENAI or ANTHROPIC, as in relay.translate
    inspect: Callable[[str, Any], RequestFacts]
    errors: ErrorFormat  # how an error is answered before the first byte (core/error_formats.py)
    stream_error_frame: Callable[[RelaygateError, str], bytes]
    read_usage: Callable[[Any], Usage | None]
    # the output tokens the call can be billed for, every choice included: (endpoint, body,
    # tokens per choice when the body sets no limit; 0 asks whether it sets one)
    max_output: Callable[[str, Any, int], int]
    limit_style: Dialect  # which rate-limit headers go out
    id_headers: tuple[bytes, ...]  # the response headers that carry our request id
    # How a stream in this dialect must begin: its first event is judged before the
    # stream is relayed, so a channel that answers garbage is failed over (relay/answer_checks.py)
    stream_opening: OpeningTest
    # A model the key may not use. OpenAI callers get the documented 401; Anthropic callers
    # get Anthropic's 403 ``permission_error``, because Claude Code retries a 401 with
    # backoff for minutes (client-requirements §5.1) while it reports a 403 and exits.
    not_permitted: type[ClientError] = ModelNotPermitted


def _anthropic_max_output(endpoint: str, payload: Any, default: int) -> int:
    """Anthropic requires ``max_tokens``: there is no default and no ``n``."""
    return anthropic_request.max_output(endpoint, payload)


OPENAI_WIRE = Wire(
    name=OPENAI,
    inspect=inspect,
    errors="openai",
    stream_error_frame=openai_errors.stream_error_frame,
    read_usage=openai_usage,
    max_output=openai_limits.max_output,
    limit_style="openai",
    id_headers=(b"x-request-id",),
    stream_opening=chat_opening,
)

ANTHROPIC_WIRE = Wire(
    name=ANTHROPIC,
    inspect=anthropic_request.inspect,
    errors="anthropic",
    stream_error_frame=anthropic_errors.stream_error_frame,
    read_usage=anthropic_usage,
    max_output=_anthropic_max_output,
    limit_style="anthropic",
    id_headers=(b"request-id", b"x-request-id"),
    stream_opening=messages_opening,
    not_permitted=PermissionDenied,
)

RESPONSES_WIRE = Wire(
    name=RESPONSES,
    inspect=responses_request.inspect,
    errors="openai",
    stream_error_frame=openai_errors.stream_error_frame,
    read_usage=responses_usage,
    max_output=responses_request.max_output,
    limit_style="openai",
    id_headers=(b"x-request-id",),
    stream_opening=responses_opening,
)

_WIRES = {wire.name: wire for wire in (OPENAI_WIRE, ANTHROPIC_WIRE, RESPONSES_WIRE)}


def wire_of(dialect: str) -> Wire:
    """The :class:`Wire` of a dialect by name (an upstream's, as :func:`call_dialect` names it)."""
    return _WIRES[dialect]
