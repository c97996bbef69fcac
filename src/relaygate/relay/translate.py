"""Non-streaming translation between the OpenAI Chat and Anthropic Messages dialects.

The relay pipeline calls this only when the caller's dialect differs from the chosen
upstream channel's (same-dialect calls are relayed byte for byte). Every translation goes
through the canonical shapes (``relay.canonical.messages``): the source dialect parses,
the target dialect renders, so neither knows the other. What maps to what, and what is
dropped or refused and why, is documented in docs/compatibility.md.

Requests the target cannot honour faithfully raise :class:`InvalidRequest` (400, in the
caller's dialect); upstream answers that cannot be read raise
:class:`UpstreamBadResponse` (502). Anything else in a body is left alone.
"""

from __future__ import annotations

from typing import Any

from relaygate.relay.dialects import ANTHROPIC, OPENAI
from relaygate.relay.dialects.anthropic_messages import convert as anthropic
from relaygate.relay.dialects.openai_chat import convert as openai
from relaygate.relay.dialects.openai_chat.capabilities import UNKNOWN, ModelCapabilities

__all__ = ["ANTHROPIC", "DIALECTS", "OPENAI", "translate_request", "translate_response"]

DIALECTS = (OPENAI, ANTHROPIC)


def _check(source: str, target: str) -> None:
    if source not in DIALECTS or target not in DIALECTS:
        raise ValueError(f"unknown dialect pair {source!r} -> {target!r}")
    if source == target:
        raise ValueError(f"same-dialect calls are relayed raw, not translated ({source!r})")


def translate_request(
    source: str,
    target: str,
    payload: dict[str, Any],
    *,
    default_max_tokens: int = 4096,
    capabilities: ModelCapabilities = UNKNOWN,
) -> dict[str, Any]:
    """The body to send upstream in ``target`` for the client's ``payload`` in ``source``.

    ``model`` is kept as given (the pipeline sets the upstream's model name afterwards)
    and so is ``stream``; an OpenAI stream asks for the final usage chunk, which billing
    needs. ``default_max_tokens`` fills Anthropic's required ``max_tokens`` when the
    OpenAI client set no limit; ``capabilities`` are the OpenAI upstream model's (what
    its body may carry)."""
    _check(source, target)
    if source == OPENAI:
        request = openai.parse_request(payload)
        return anthropic.render_request(request, default_max_tokens=default_max_tokens)
    return openai.render_request(anthropic.parse_request(payload), capabilities)


def translate_response(
    source: str, target: str, body: dict[str, Any], *, model: str
) -> dict[str, Any]:
    """The client's body in ``target`` for the upstream's complete answer ``body`` in
    ``source``, naming ``model`` (the model the client asked for)."""
    _check(source, target)
    response = openai.parse_response(body) if source == OPENAI else anthropic.parse_response(body)
    response.model = model
    if target == OPENAI:
        return openai.render_response(response)
    return anthropic.render_response(response)
