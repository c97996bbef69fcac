"""Validation of inbound Responses requests, only as deep as the gateway needs.

As for the other dialects, the body is otherwise the upstream's business (Codex sends
``client_metadata``, ``prompt_cache_key`` and tool types nobody else knows). Checked
here is what Relaygate relies on before it calls anyone: the model to route, the stream
flag, an ``input`` it can read, and that the history to continue is named at most once.
"""

from __future__ import annotations

from typing import Any

from relaygate.core.errors import InvalidRequest
from relaygate.relay.dialects.fields import OPENAI_FIELDS, boolean, choice, integer, number, string
from relaygate.relay.dialects.openai_chat.request import RequestFacts

__all__ = [
    "COMPACT",
    "FIELD_RULES",
    "RESPONSES",
    "TRIGGER",
    "RequestFacts",
    "has_trigger",
    "inspect",
    "max_output",
]

RESPONSES = "responses"
COMPACT = "responses/compact"  # ``POST /v1/responses/compact``, named by its upstream path
TRIGGER = "compaction_trigger"  # an input item: "compact instead of answering" (last only)
# The scalar fields checked, with OpenAI's documented limits (openai-openapi.json);
# ``max_output_tokens`` is documented from 16, but a smaller cap is kept for the channels
# that are not OpenAI's (the canonical translation has always taken any positive one).
FIELD_RULES = (
    integer("max_output_tokens", 1),
    number("temperature", 0, 2),
    number("top_p", 0, 1),
    integer("top_logprobs", 0, 20),
    integer("max_tool_calls"),
    boolean("parallel_tool_calls"),
    boolean("store"),
    boolean("background"),
    choice("truncation", "auto", "disabled"),
    string("instructions"),
    string("user"),
)


def _check_input(body: dict[str, Any]) -> None:
    value = body.get("input")
    if value is None:
        if body.get("previous_response_id") is None and body.get("conversation") is None:
            raise InvalidRequest("Missing required parameter: 'input'.", param="input")
        return
    if isinstance(value, str):
        return
    if not isinstance(value, list):
        raise InvalidRequest(
            "Invalid type for 'input': expected a string or an array of input items.",
            param="input",
        )
    for index, item in enumerate(value):
        if not isinstance(item, dict):
            raise InvalidRequest(
                f"Invalid type for 'input[{index}]': expected an object.", param=f"input[{index}]"
            )
        if not isinstance(item.get("type"), str) and not isinstance(item.get("role"), str):
            raise InvalidRequest(
                f"Invalid 'input[{index}]': an item needs a 'type' (or a message 'role').",
                param=f"input[{index}]",
            )


def _check_history(body: dict[str, Any]) -> None:
    previous, conversation = body.get("previous_response_id"), body.get("conversation")
    if previous is not None and conversation is not None:
        raise InvalidRequest(
            "Mutually exclusive parameters: Ensure you are only providing one of: "
            "'previous_response_id' or 'conversation'.",
            code="mutually_exclusive_parameters",
        )
    if previous is not None and (not isinstance(previous, str) or not previous):
        raise InvalidRequest(
            "Invalid type for 'previous_response_id': expected a string.",
            param="previous_response_id",
        )
    if conversation is not None:
        conv_id = conversation.get("id") if isinstance(conversation, dict) else conversation
        if not isinstance(conv_id, str) or not conv_id:
            raise InvalidRequest(
                "Invalid 'conversation': expected a conversation id or an object with 'id'.",
                param="conversation",
            )


def has_trigger(body: Any) -> bool:
    """Whether a Responses body ends with a ``compaction_trigger`` item (the newer form
    of compaction: answered with exactly one ``compaction`` output item)."""
    items = body.get("input") if isinstance(body, dict) else None
    if not isinstance(items, list) or not items:
        return False
    last = items[-1]
    return isinstance(last, dict) and last.get("type") == TRIGGER


def _check_trigger(body: dict[str, Any]) -> None:
    items = body.get("input")
    if not isinstance(items, list):
        return
    for index, item in enumerate(items[:-1]):
        if isinstance(item, dict) and item.get("type") == TRIGGER:
            raise InvalidRequest(
                "A 'compaction_trigger' item must be the last input item.",
                param=f"input[{index}]",
            )


def inspect(endpoint: str, body: Any) -> RequestFacts:
    """Check ``body`` for ``endpoint`` and return what routing and metering need.

    ``include_usage`` is always True: a Responses stream carries its usage in
    ``response.completed`` whatever the client asked for."""
    if endpoint not in (RESPONSES, COMPACT):
        raise ValueError(f"not a Responses endpoint: {endpoint!r}")
    if not isinstance(body, dict):
        raise InvalidRequest("The request body must be a JSON object.")
    model = body.get("model")
    if not isinstance(model, str) or not model:
        raise InvalidRequest("You must provide a model parameter.", param="model")
    _check_input(body)
    _check_history(body)
    _check_trigger(body)
    OPENAI_FIELDS.check(body, FIELD_RULES)
    if endpoint == COMPACT:  # answered whole, always
        return RequestFacts(model=model, stream=False, include_usage=True)
    stream = body.get("stream", False)
    if stream is not None and not isinstance(stream, bool):
        raise InvalidRequest(
            "Invalid type for 'stream': expected a boolean.", param="stream", code="invalid_type"
        )
    return RequestFacts(model=model, stream=bool(stream), include_usage=True)


def max_output(endpoint: str, body: Any, default: int) -> int:
    """The most output tokens the call may produce, for the up-front cost estimate:
    ``max_output_tokens`` (which covers reasoning tokens too), else ``default``."""
    if endpoint not in (RESPONSES, COMPACT) or not isinstance(body, dict):
        return 0
    value = body.get("max_output_tokens")
    if isinstance(value, int) and not isinstance(value, bool) and value > 0:
        return value
    return default
