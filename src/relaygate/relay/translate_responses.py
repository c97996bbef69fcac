"""Serving the OpenAI Responses API from Chat Completions and Anthropic channels.

The pipeline calls these when a ``POST /v1/responses`` goes to a channel that does not
speak Responses (a native Responses channel is relayed as it is and metered with
``dialects.openai_responses``). As for the other dialect pairs, everything goes through
the canonical shapes: the Responses request (with the history the gateway stored for
its ``previous_response_id`` or conversation) is parsed once and rendered in the
channel's dialect; the channel's answer is parsed by its dialect and rendered as the
client's ``Response``. Streams: :class:`ResponsesTranslator`. Decisions:
docs/compatibility.md, "Responses API".
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from relaygate.relay.dialects.anthropic_messages import convert as anthropic
from relaygate.relay.dialects.openai_chat import convert as openai
from relaygate.relay.dialects.openai_chat.capabilities import UNKNOWN, ModelCapabilities
from relaygate.relay.dialects.openai_responses import convert as responses
from relaygate.relay.dialects.openai_responses.output import IdFactory, new_id
from relaygate.relay.dialects.openai_responses.stream import ResponsesTranslator

__all__ = [
    "RESPONSES",
    "ResponsesTranslator",
    "response_template",
    "responses_reply_from",
    "responses_request_to",
]

RESPONSES = "responses"
_OPENAI, _ANTHROPIC = "openai", "anthropic"

response_template = responses.response_template


def responses_request_to(
    target: str,
    body: dict[str, Any],
    history: list[dict[str, Any]],
    *,
    default_max_tokens: int,
    capabilities: ModelCapabilities = UNKNOWN,
) -> dict[str, Any]:
    """The body to send to a ``target`` channel (``"openai"``: Chat Completions,
    ``"anthropic"``: Messages) for the Responses ``body`` continuing ``history``.

    ``model`` and ``stream`` are kept (the pipeline sets the upstream's model name);
    a Chat Completions stream asks for its usage chunk, which billing needs.
    ``default_max_tokens`` fills Anthropic's required ``max_tokens`` when the client set
    no ``max_output_tokens``; ``capabilities`` are a chat upstream model's. Raises
    InvalidRequest (400) for what cannot be translated.
    """
    if target not in (_OPENAI, _ANTHROPIC):
        raise ValueError(f"no Responses translation to {target!r}")
    request = responses.parse_request(body, history)
    if target == _OPENAI:
        return openai.render_request(request, capabilities)
    return anthropic.render_request(request, default_max_tokens=default_max_tokens)


def responses_reply_from(
    source: str,
    upstream_body: dict[str, Any],
    *,
    response_template: dict[str, Any],
    ids: IdFactory = new_id,
    clock: Callable[[], float] = time.time,
) -> dict[str, Any]:
    """The client's ``Response`` for a ``chat.completion`` (``source="openai"``) or an
    Anthropic ``message`` (``"anthropic"``). ``response_template`` is the Response known
    before the call (:func:`response_template`: id, model, time, echoed parameters).
    An answer that cannot be read raises UpstreamBadResponse (502)."""
    if source == _OPENAI:
        response = openai.parse_response(upstream_body)
    elif source == _ANTHROPIC:
        response = anthropic.parse_response(upstream_body)
    else:
        raise ValueError(f"no Responses translation from {source!r}")
    return responses.build_response(response_template, response, ids=ids, clock=clock)
