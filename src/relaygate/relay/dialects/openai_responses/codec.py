"""The Responses dialect's translation half (loaded on the first translated call):
a Responses request read into canonical shapes, answers and streams rendered back."""

from __future__ import annotations

import time
from typing import Any

from relaygate.relay.canonical.messages import Response
from relaygate.relay.dialects import DialectName
from relaygate.relay.dialects.openai_responses.convert import build_response
from relaygate.relay.dialects.openai_responses.input import parse_request
from relaygate.relay.dialects.openai_responses.output import new_id
from relaygate.relay.dialects.openai_responses.stream import ResponsesTranslator
from relaygate.relay.dialects.record import Codec, StreamReader, StreamStart

__all__ = ["CODEC"]


def _render_response(response: Response, template: dict[str, Any] | None) -> dict[str, Any]:
    assert template is not None  # a Responses turn always has one
    return build_response(template, response, ids=new_id, clock=time.time)


def _translated_stream(upstream: DialectName, start: StreamStart) -> StreamReader:
    assert start.template is not None
    return ResponsesTranslator(upstream, response_template=start.template)


CODEC = Codec(
    parse_request=parse_request,
    render_request=None,
    parse_response=None,
    render_response=_render_response,
    stream_decoder=None,
    stream_encoder=None,
    translated_stream=_translated_stream,
)
