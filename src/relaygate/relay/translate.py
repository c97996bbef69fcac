"""Non-streaming translation between dialects: ``target.render(source.parse(body))``.

The relay pipeline calls this only when the caller's dialect differs from the chosen
upstream channel's (same-dialect calls are relayed byte for byte). Every translation goes
through the canonical shapes (``relay.canonical.messages``): the source dialect's codec
parses, the target's renders, so neither knows the other and no pair is special here.
What maps to what, and what is dropped or refused and why, is documented in
docs/compatibility.md; the records are described in docs/dialects.md.

Requests the target cannot honour faithfully raise :class:`InvalidRequest` (400, in the
caller's dialect); upstream answers that cannot be read raise
:class:`UpstreamBadResponse` (502). Anything else in a body is left alone.
"""

from __future__ import annotations

from typing import Any

from relaygate.relay.dialects import ANTHROPIC, OPENAI
from relaygate.relay.dialects.openai_chat.capabilities import UNKNOWN, ModelCapabilities
from relaygate.relay.dialects.record import RenderOptions
from relaygate.relay.dialects.registry import dialect_of

__all__ = ["ANTHROPIC", "OPENAI", "translate_request", "translate_response"]


def _pair(source: str, target: str) -> None:
    if source == target:
        raise ValueError(f"same-dialect calls are relayed raw, not translated ({source!r})")


def translate_request(
    source: str,
    target: str,
    payload: dict[str, Any],
    *,
    history: list[dict[str, Any]] | None = None,
    default_max_tokens: int = 4096,
    capabilities: ModelCapabilities = UNKNOWN,
) -> dict[str, Any]:
    """The body to send upstream in ``target`` for the client's ``payload`` in ``source``
    (continuing the stored ``history`` of a Responses turn).

    ``model`` is kept as given (the pipeline sets the upstream's model name afterwards)
    and so is ``stream``; an OpenAI stream asks for the final usage chunk, which billing
    needs. ``default_max_tokens`` fills Anthropic's required ``max_tokens`` when the
    client set no limit; ``capabilities`` are the upstream model's (what its body may
    carry, from the target's ``capabilities`` hook)."""
    _pair(source, target)
    render = dialect_of(target).codec().render_request
    if render is None:
        raise ValueError(f"no translation from {source!r} to {target!r}")
    request = dialect_of(source).codec().parse_request(payload, history or [])
    return render(request, RenderOptions(default_max_tokens, capabilities))


def translate_response(
    source: str,
    target: str,
    body: dict[str, Any],
    *,
    model: str,
    template: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """The client's body in ``target`` for the upstream's complete answer ``body`` in
    ``source``, naming ``model`` (the model the client asked for; a Responses answer
    takes it and its ids from ``template``, the Response known before the call)."""
    _pair(source, target)
    parse = dialect_of(source).codec().parse_response
    if parse is None:
        raise ValueError(f"no translation from {source!r} to {target!r}")
    response = parse(body)
    response.model = model
    return dialect_of(target).codec().render_response(response, template)
