"""The Anthropic Messages dialect's record (also the legacy Text Completions route,
which rides on Messages, and count_tokens)."""

from __future__ import annotations

from typing import Any

from relaygate.channels.spec import ChannelSpec
from relaygate.core.errors import PermissionDenied
from relaygate.limits.headers import anthropic_headers
from relaygate.relay.dialects import DialectName
from relaygate.relay.dialects.anthropic_messages import errors, request
from relaygate.relay.dialects.anthropic_messages.count import estimate_input_tokens
from relaygate.relay.dialects.anthropic_messages.file_inputs import file_inputs
from relaygate.relay.dialects.anthropic_messages.model_list import model_entry, model_list
from relaygate.relay.dialects.anthropic_messages.request import MESSAGES
from relaygate.relay.dialects.anthropic_messages.usage import read_usage
from relaygate.relay.dialects.openai_chat.capabilities import UNKNOWN, ModelCapabilities
from relaygate.relay.dialects.openai_chat.request import CHAT
from relaygate.relay.dialects.openai_responses.request import COMPACT
from relaygate.relay.dialects.openai_responses.request import RESPONSES as RESPONSES_ENDPOINT
from relaygate.relay.dialects.openings import messages_opening
from relaygate.relay.dialects.record import (
    Codec,
    Dialect,
    Passthrough,
    ProbeBody,
    StreamReader,
    as_sent,
    never_compacts,
)

__all__ = ["DIALECT", "final_text"]

_DONE = frozenset({"end_turn", "stop_sequence"})


def _codec() -> Codec:
    from relaygate.relay.dialects.anthropic_messages.codec import CODEC

    return CODEC


def _passthrough(options: Passthrough) -> StreamReader:
    from relaygate.relay.dialects.anthropic_messages.scanner import AnthropicScanner

    return AnthropicScanner()


def _max_output(endpoint: str, payload: Any, default: int) -> int:
    """Anthropic requires ``max_tokens``: there is no default and no ``n``."""
    return request.max_output(endpoint, payload)


def _no_strict_schema(payload: dict[str, Any]) -> dict[str, Any] | None:
    return None  # a Messages caller's ``output_config`` is Anthropic's to keep


def _capabilities(channel: ChannelSpec, upstream_model: str, model: str) -> ModelCapabilities:
    return UNKNOWN  # a Messages body is rendered whole; the channel's cap is applied after


def final_text(answer: dict[str, Any]) -> str | None:
    """The text of a message that ended normally and calls no tools."""
    content = answer.get("content")
    if answer.get("stop_reason") not in _DONE or not isinstance(content, list):
        return None
    blocks = [block for block in content if isinstance(block, dict)]
    if any(block.get("type") == "tool_use" for block in blocks):
        return None
    return "".join(str(b.get("text", "")) for b in blocks if b.get("type") == "text")


def _probe(model: str) -> ProbeBody:
    """One word in, one token out (a Messages channel has no embeddings)."""
    message = [{"role": "user", "content": "ping"}]
    return ProbeBody(MESSAGES, {"model": model, "messages": message, "max_tokens": 1})


DIALECT = Dialect(
    name=DialectName.ANTHROPIC,
    inspect=request.inspect,
    errors="anthropic",
    stream_error_frame=errors.stream_error_frame,
    max_output=_max_output,
    rate_limit_headers=anthropic_headers,
    id_headers=(b"request-id", b"x-request-id"),
    strict_schema=_no_strict_schema,
    model_entry=model_entry,
    model_list=model_list,
    compaction=never_compacts,
    native_body=as_sent,
    read_usage=read_usage,
    stream_opening=messages_opening,
    passthrough=_passthrough,
    reads_stream_errors=True,
    carries={
        (DialectName.OPENAI, CHAT): MESSAGES,
        (DialectName.RESPONSES, RESPONSES_ENDPOINT): MESSAGES,
        # compacted by the model itself (relay/compaction.py): a summarisation call
        (DialectName.RESPONSES, COMPACT): MESSAGES,
    },
    output_fields=("max_tokens",),
    caps_translated_output=True,
    capabilities=_capabilities,
    probe=_probe,
    final_text=final_text,
    codec=_codec,
    file_inputs=file_inputs,
    counts_tokens=True,
    count_estimate=estimate_input_tokens,
    overloaded_529=True,
    not_permitted=PermissionDenied,
)
