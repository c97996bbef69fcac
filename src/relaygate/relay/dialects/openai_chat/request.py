"""Validation of inbound OpenAI requests, only as deep as the gateway needs.

The body is otherwise passed upstream untouched: unknown fields are the upstream's
business. What is checked here are the fields Relaygate itself relies on, so a malformed
call fails with a clear 400 instead of reaching (and being billed by) an upstream.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from relaygate.core.errors import InvalidRequest

__all__ = ["CHAT", "COMPLETIONS", "EMBEDDINGS", "MODERATIONS", "RequestFacts", "inspect"]

CHAT = "chat/completions"
COMPLETIONS = "completions"
EMBEDDINGS = "embeddings"
MODERATIONS = "moderations"
_UNSTREAMED = frozenset({EMBEDDINGS, MODERATIONS})
DEFAULT_MODERATION_MODEL = "omni-moderation-latest"

# endpoint -> (required field, accepted JSON types of that field)
_REQUIRED: dict[str, tuple[str, tuple[type, ...]]] = {
    CHAT: ("messages", (list,)),
    COMPLETIONS: ("prompt", (str, list)),
    EMBEDDINGS: ("input", (str, list)),
    MODERATIONS: ("input", (str, list)),
}


@dataclass(frozen=True, slots=True)
class RequestFacts:
    model: str
    stream: bool
    include_usage: bool


def _check_messages(messages: list[Any]) -> None:
    if not messages:
        raise InvalidRequest("'messages' must contain at least one message.", param="messages")
    for index, message in enumerate(messages):
        if not isinstance(message, dict) or not isinstance(message.get("role"), str):
            raise InvalidRequest(
                f"Invalid message at index {index}: each message needs a string 'role'.",
                param=f"messages[{index}]",
            )


def inspect(endpoint: str, body: Any) -> RequestFacts:
    """Check ``body`` for ``endpoint`` and return what routing and metering need."""
    if not isinstance(body, dict):
        raise InvalidRequest("The request body must be a JSON object.")
    if endpoint == MODERATIONS and "model" not in body:
        body["model"] = DEFAULT_MODERATION_MODEL  # optional there, as at OpenAI
    model = body.get("model")
    if not isinstance(model, str) or not model:
        raise InvalidRequest("You must provide a model parameter.", param="model")
    field, types = _REQUIRED[endpoint]
    value = body.get(field)
    if value is None:
        raise InvalidRequest(f"Missing required parameter: '{field}'.", param=field)
    if not isinstance(value, types):
        raise InvalidRequest(f"Invalid type for '{field}'.", param=field)
    if endpoint == CHAT and isinstance(value, list):
        _check_messages(value)
    stream = body.get("stream", False)
    if stream is not None and not isinstance(stream, bool):
        raise InvalidRequest("'stream' must be a boolean.", param="stream")
    if endpoint in _UNSTREAMED and stream:
        raise InvalidRequest(f"'{endpoint}' cannot be streamed.", param="stream")
    options = body.get("stream_options")
    include_usage = isinstance(options, dict) and options.get("include_usage") is True
    return RequestFacts(model=model, stream=bool(stream), include_usage=include_usage)
