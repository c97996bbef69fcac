"""Serving the OpenAI Responses API from Chat Completions and Anthropic channels.

The pipeline translates a ``POST /v1/responses`` for a channel that does not speak
Responses like any other pair (``relay.translate``: the Responses codec parses the
request with the history the gateway stored for its ``previous_response_id`` or
conversation, the channel's renders it; the channel's answer is parsed by its codec and
rendered as the client's ``Response``). These entry points name the Responses side and
take the ids and clock a test pins. Streams: :class:`ResponsesTranslator`. Decisions:
docs/compatibility.md, "Responses API".
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from relaygate.relay.dialects import RESPONSES
from relaygate.relay.dialects.openai_chat.capabilities import UNKNOWN, ModelCapabilities
from relaygate.relay.dialects.openai_responses import convert as responses
from relaygate.relay.dialects.openai_responses.output import IdFactory, new_id
from relaygate.relay.dialects.openai_responses.stream import ResponsesTranslator
from relaygate.relay.dialects.registry import dialect_of
from relaygate.relay.translate import translate_request

__all__ = [
    "RESPONSES",
    "ResponsesTranslator",
    "response_template",
    "responses_reply_from",
    "responses_request_to",
]

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
    return translate_request(
        RESPONSES,
        target,
        body,
        history=history,
        default_max_tokens=default_max_tokens,
        capabilities=capabilities,
    )


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
    parse = dialect_of(source).codec().parse_response
    if parse is None:
        raise ValueError(f"no Responses translation from {source!r}")
    return responses.build_response(response_template, parse(upstream_body), ids=ids, clock=clock)
