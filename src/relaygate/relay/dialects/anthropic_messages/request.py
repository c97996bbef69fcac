"""Validation of inbound Anthropic requests, only as deep as the gateway needs.

The body is otherwise passed upstream untouched: real clients send fields the gateway
has never heard of (``output_config``, ``context_management``, role ``"system"`` entries
inside ``messages``, ``thinking.display``), and those are the upstream's business. What
is checked here are the fields Relaygate itself relies on (the model to route, the
stream flag, the output ceiling to reserve money against), so a malformed call fails
with a clear 400 in Anthropic's wording instead of reaching, and being billed by, an
upstream.
"""

from __future__ import annotations

from typing import Any

from relaygate.core.errors import InvalidRequest
from relaygate.relay.dialects.fields import ANTHROPIC_FIELDS, Rule, integer, number
from relaygate.relay.dialects.openai_chat.request import RequestFacts

__all__ = [
    "COMPLETE",
    "COUNT_TOKENS",
    "FIELD_RULES",
    "MESSAGES",
    "RequestFacts",
    "inspect",
    "max_output",
]

MESSAGES = "messages"
COUNT_TOKENS = "messages/count_tokens"
COMPLETE = "complete"

# endpoint -> the field that caps the answer's length (count_tokens generates nothing)
_OUTPUT_CAP = {MESSAGES: "max_tokens", COMPLETE: "max_tokens_to_sample"}
# The sampling fields checked, with Anthropic's documented ranges; a token limit is
# checked by ``_require_positive_int`` first, then here for its 64-bit ceiling.
_SAMPLING = (number("temperature", 0, 1), number("top_p", 0, 1), integer("top_k", 0))
FIELD_RULES: dict[str, tuple[Rule, ...]] = {
    MESSAGES: (integer("max_tokens", 1), *_SAMPLING),
    COUNT_TOKENS: (),
    COMPLETE: (integer("max_tokens_to_sample", 1), *_SAMPLING),
}


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _require_positive_int(body: dict[str, Any], field: str) -> None:
    value = body.get(field)
    if value is None:
        raise InvalidRequest(f"{field}: Field required", param=field)
    if not _is_int(value):
        raise InvalidRequest(f"{field}: Input should be a valid integer", param=field)
    if value < 1:
        raise InvalidRequest(f"{field}: Input should be greater than or equal to 1", param=field)


def _check_messages(body: dict[str, Any]) -> None:
    messages = body.get("messages")
    if messages is None:
        raise InvalidRequest("messages: Field required", param="messages")
    if not isinstance(messages, list):
        raise InvalidRequest("messages: Input should be a valid list", param="messages")
    if not messages:
        raise InvalidRequest("messages: at least one message is required", param="messages")
    for index, message in enumerate(messages):
        if not isinstance(message, dict):
            raise InvalidRequest(
                f"messages.{index}: Input should be a valid dictionary",
                param=f"messages.{index}",
            )
        if not isinstance(message.get("role"), str):
            raise InvalidRequest(
                f"messages.{index}.role: Field required (a string)",
                param=f"messages.{index}.role",
            )


def _check_complete(body: dict[str, Any]) -> None:
    prompt = body.get("prompt")
    if prompt is None:
        raise InvalidRequest("prompt: Field required", param="prompt")
    if not isinstance(prompt, str):
        raise InvalidRequest("prompt: Input should be a valid string", param="prompt")
    _require_positive_int(body, "max_tokens_to_sample")


def _stream_flag(endpoint: str, body: dict[str, Any]) -> bool:
    stream = body.get("stream", False)
    if stream is not None and not isinstance(stream, bool):
        raise InvalidRequest("stream: Input should be a valid boolean", param="stream")
    if endpoint == COUNT_TOKENS and stream:
        raise InvalidRequest("stream: Token counting cannot be streamed", param="stream")
    return bool(stream)


def inspect(endpoint: str, body: Any) -> RequestFacts:
    """Check ``body`` for ``endpoint`` and return what routing and metering need.

    ``include_usage`` is always True: an Anthropic stream carries its usage in
    ``message_start`` and ``message_delta`` whether or not the caller wants it, so the
    gateway never has to ask for it.
    """
    if endpoint not in (MESSAGES, COUNT_TOKENS, COMPLETE):
        raise ValueError(f"not an Anthropic endpoint: {endpoint!r}")
    if not isinstance(body, dict):
        raise InvalidRequest("The request body must be a JSON object.")
    model = body.get("model")
    if model is None:
        raise InvalidRequest("model: Field required", param="model")
    if not isinstance(model, str) or not model:
        raise InvalidRequest("model: Input should be a non-empty string", param="model")
    if endpoint == COMPLETE:
        _check_complete(body)
    else:
        if endpoint == MESSAGES:
            _require_positive_int(body, "max_tokens")
        _check_messages(body)
    ANTHROPIC_FIELDS.check(body, FIELD_RULES[endpoint])
    return RequestFacts(model=model, stream=_stream_flag(endpoint, body), include_usage=True)


def max_output(endpoint: str, body: Any) -> int:
    """The most output tokens the call may produce, for the up-front cost estimate.

    Extended thinking counts against ``max_tokens`` (``budget_tokens`` must be below
    it), so the cap already covers reasoning. 0 for count_tokens, which generates
    nothing, and for a body :func:`inspect` would have refused.
    """
    field = _OUTPUT_CAP.get(endpoint)
    if field is None or not isinstance(body, dict):
        return 0
    # a Complete body is held after it became a Messages one (``max_tokens``)
    for value in (body.get(field), body.get("max_tokens")):
        if isinstance(value, int) and not isinstance(value, bool) and value > 0:
            return value
    return 0
