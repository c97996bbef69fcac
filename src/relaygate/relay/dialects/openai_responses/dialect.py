"""The OpenAI Responses dialect's record.

A Responses channel (one with ``responses_api``) is only ever called by a Responses
caller: nothing is translated *into* Responses requests or *from* Responses answers, so
the record carries no calls of other dialects and its codec only parses requests and
renders answers and streams."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from relaygate.channels.spec import ChannelSpec
from relaygate.limits.headers import openai_headers
from relaygate.limits.policy import Decision
from relaygate.relay.dialects import DialectName
from relaygate.relay.dialects.openai_chat import errors
from relaygate.relay.dialects.openai_chat.capabilities import UNKNOWN, ModelCapabilities
from relaygate.relay.dialects.openai_chat.model_list import model_entry, model_list
from relaygate.relay.dialects.openai_responses import request
from relaygate.relay.dialects.openai_responses.file_inputs import file_inputs
from relaygate.relay.dialects.openai_responses.native import native_body
from relaygate.relay.dialects.openai_responses.output import read_usage
from relaygate.relay.dialects.openings import responses_opening
from relaygate.relay.dialects.record import Codec, Dialect, Passthrough, ProbeBody, StreamReader
from relaygate.relay.dialects.strict import strict_schema_of

__all__ = ["DIALECT", "strict_schema"]


def _codec() -> Codec:
    from relaygate.relay.dialects.openai_responses.codec import CODEC

    return CODEC


def _passthrough(options: Passthrough) -> StreamReader:
    from relaygate.relay.dialects.openai_responses.stream import ResponsesScanner

    return ResponsesScanner()


def _rate_limit_headers(decision: Decision, now: datetime) -> dict[str, str]:
    return openai_headers(decision)


def strict_schema(payload: dict[str, Any]) -> dict[str, Any] | None:
    text = payload.get("text")
    spec = text.get("format") if isinstance(text, dict) else None
    return strict_schema_of(spec, spec)


def _compaction(endpoint: str, payload: dict[str, Any]) -> bool:
    return endpoint == request.COMPACT or request.has_trigger(payload)


def _capabilities(channel: ChannelSpec, upstream_model: str, model: str) -> ModelCapabilities:
    return UNKNOWN  # a native Responses body is relayed as the caller wrote it


def _no_final_text(answer: dict[str, Any]) -> str | None:
    return None  # a Responses channel is native: its answers are not checked here


def _probe(model: str) -> ProbeBody:
    return ProbeBody(request.RESPONSES, {"model": model, "input": "ping", "max_output_tokens": 16})


DIALECT = Dialect(
    name=DialectName.RESPONSES,
    inspect=request.inspect,
    errors="openai",
    stream_error_frame=errors.stream_error_frame,
    max_output=request.max_output,
    rate_limit_headers=_rate_limit_headers,
    id_headers=(b"x-request-id",),
    strict_schema=strict_schema,
    model_entry=model_entry,
    model_list=model_list,
    compaction=_compaction,
    native_body=native_body,
    read_usage=read_usage,
    stream_opening=responses_opening,
    passthrough=_passthrough,
    reads_stream_errors=True,
    carries={},
    output_fields=("max_output_tokens",),
    caps_translated_output=True,
    capabilities=_capabilities,
    probe=_probe,
    final_text=_no_final_text,
    codec=_codec,
    file_inputs=file_inputs,
    stores_turns=True,
)
