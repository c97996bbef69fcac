"""The Messages dialect's translation half (loaded on the first translated call)."""

from __future__ import annotations

from typing import Any

from relaygate.relay.canonical.messages import Request, Response
from relaygate.relay.dialects import DialectName
from relaygate.relay.dialects.anthropic_messages import convert
from relaygate.relay.dialects.anthropic_messages.stream import (
    AnthropicStreamDecoder,
    AnthropicStreamEncoder,
)
from relaygate.relay.dialects.record import Codec, RenderOptions, StreamReader, StreamStart
from relaygate.relay.dialects.translated_stream import StreamTranslator

__all__ = ["CODEC"]


def _parse_request(body: dict[str, Any], history: list[dict[str, Any]]) -> Request:
    return convert.parse_request(body)  # a Messages body carries its whole history


def _render_request(request: Request, options: RenderOptions) -> dict[str, Any]:
    return convert.render_request(request, default_max_tokens=options.default_max_tokens)


def _render_response(response: Response, template: dict[str, Any] | None) -> dict[str, Any]:
    return convert.render_response(response)


def _encoder(start: StreamStart) -> AnthropicStreamEncoder:
    return AnthropicStreamEncoder(
        model=start.model, request_id=start.request_id, input_estimate=start.input_estimate
    )


def _translated_stream(upstream: DialectName, start: StreamStart) -> StreamReader:
    return StreamTranslator.opened(upstream, DialectName.ANTHROPIC, start)


CODEC = Codec(
    parse_request=_parse_request,
    render_request=_render_request,
    parse_response=convert.parse_response,
    render_response=_render_response,
    stream_decoder=AnthropicStreamDecoder,
    stream_encoder=_encoder,
    translated_stream=_translated_stream,
)
