"""The OpenAI Chat Completions dialect's record (also the legacy Completions,
Embeddings and Moderations routes, which share its errors, limits and headers)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from relaygate.limits.headers import openai_headers
from relaygate.limits.policy import Decision
from relaygate.relay.dialects import DialectName
from relaygate.relay.dialects.anthropic_messages.request import MESSAGES
from relaygate.relay.dialects.openai_chat import errors, limits
from relaygate.relay.dialects.openai_chat.channel_capabilities import model_capabilities
from relaygate.relay.dialects.openai_chat.file_inputs import file_inputs
from relaygate.relay.dialects.openai_chat.model_list import model_entry, model_list
from relaygate.relay.dialects.openai_chat.request import CHAT, EMBEDDINGS, inspect
from relaygate.relay.dialects.openai_chat.usage import read_usage
from relaygate.relay.dialects.openai_responses.request import COMPACT
from relaygate.relay.dialects.openai_responses.request import RESPONSES as RESPONSES_ENDPOINT
from relaygate.relay.dialects.openings import chat_opening
from relaygate.relay.dialects.record import (
    Codec,
    Dialect,
    Passthrough,
    ProbeBody,
    StreamReader,
    as_sent,
    never_compacts,
)
from relaygate.relay.dialects.strict import strict_schema_of

__all__ = ["DIALECT", "final_text", "strict_schema"]


def _codec() -> Codec:
    from relaygate.relay.dialects.openai_chat.codec import CODEC

    return CODEC


def _passthrough(options: Passthrough) -> StreamReader:
    from relaygate.relay.streaming import SSEScanner

    return SSEScanner(
        drop_usage_chunk=options.injected, completions=options.completions, choices=options.choices
    )


def _rate_limit_headers(decision: Decision, now: datetime) -> dict[str, str]:
    return openai_headers(decision)  # resets are durations: no clock needed


def strict_schema(payload: dict[str, Any]) -> dict[str, Any] | None:
    fmt = payload.get("response_format")
    return strict_schema_of(fmt, fmt.get("json_schema") if isinstance(fmt, dict) else None)


def final_text(answer: dict[str, Any]) -> str | None:
    """The first choice's text when it finished normally (not cut off, refused or
    calling tools): OpenAI marks those by ``finish_reason`` / ``refusal``."""
    choices = answer.get("choices")
    first = choices[0] if isinstance(choices, list) and choices else None
    if not isinstance(first, dict) or first.get("finish_reason") != "stop":
        return None
    message = first.get("message")
    if not isinstance(message, dict) or message.get("refusal") or message.get("tool_calls"):
        return None
    content = message.get("content")
    return content if isinstance(content, str) else None


def _probe(model: str) -> ProbeBody:
    """An embedding of one word for an embedding model (by its name, as every provider
    names them), else one word in, one token out."""
    if "embed" in model.lower():
        return ProbeBody(EMBEDDINGS, {"model": model, "input": "ping"})
    message = [{"role": "user", "content": "ping"}]
    return ProbeBody(CHAT, {"model": model, "messages": message, "max_tokens": 1})


DIALECT = Dialect(
    name=DialectName.OPENAI,
    inspect=inspect,
    errors="openai",
    stream_error_frame=errors.stream_error_frame,
    max_output=limits.max_output,
    rate_limit_headers=_rate_limit_headers,
    id_headers=(b"x-request-id",),
    strict_schema=strict_schema,
    model_entry=model_entry,
    model_list=model_list,
    compaction=never_compacts,
    native_body=as_sent,
    read_usage=read_usage,
    stream_opening=chat_opening,
    passthrough=_passthrough,
    reads_stream_errors=False,  # a relayed chat stream's error events are Guarded's to read
    carries={
        (DialectName.ANTHROPIC, MESSAGES): CHAT,
        (DialectName.RESPONSES, RESPONSES_ENDPOINT): CHAT,
        # compacted by the model itself (relay/compaction.py): a summarisation call
        (DialectName.RESPONSES, COMPACT): CHAT,
    },
    output_fields=("max_tokens", "max_completion_tokens"),
    caps_translated_output=False,  # the capabilities hook renders within the channel's cap
    capabilities=model_capabilities,
    probe=_probe,
    final_text=final_text,
    codec=_codec,
    file_inputs=file_inputs,
    asks_usage_chunk=True,
    choices_returned=limits.choices_returned,
)
