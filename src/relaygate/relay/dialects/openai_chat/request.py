"""Validation of inbound OpenAI requests, only as deep as the gateway needs.

The body is otherwise passed upstream untouched: unknown fields are the upstream's
business. What is checked here are the fields Relaygate itself relies on, so a malformed
call fails with a clear 400 instead of reaching (and being billed by) an upstream.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from relaygate.core.errors import InvalidRequest
from relaygate.relay.dialects.fields import (
    OPENAI_FIELDS,
    Rule,
    boolean,
    choice,
    integer,
    number,
    string,
)
from relaygate.relay.dialects.openai_chat.moderation import check_input

__all__ = [
    "CHAT",
    "COMPLETIONS",
    "EMBEDDINGS",
    "FIELD_RULES",
    "MODERATIONS",
    "RequestFacts",
    "inspect",
]

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
    MODERATIONS: ("input", (str, list)),  # and its items: moderation.check_input
}


# The scalar fields each endpoint checks, with OpenAI's documented limits
# (openai-openapi.json). Where the schema gives a token limit no minimum, OpenAI itself
# refuses a chat limit below 1; the legacy Completions route documents 0 (``echo`` with
# no new tokens). ``stream`` is checked with the endpoint's own rule below.
_SAMPLING = (
    number("temperature", 0, 2),
    number("top_p", 0, 1),
    number("frequency_penalty", -2, 2),
    number("presence_penalty", -2, 2),
    integer("n", 1, 128),
    integer("seed"),
    string("user"),
)
FIELD_RULES: dict[str, tuple[Rule, ...]] = {
    CHAT: (
        integer("max_tokens", 1),
        integer("max_completion_tokens", 1),
        *_SAMPLING,
        boolean("logprobs"),
        integer("top_logprobs", 0, 20),
        boolean("store"),
        boolean("parallel_tool_calls"),
    ),
    COMPLETIONS: (
        integer("max_tokens", 0),
        *_SAMPLING,
        integer("best_of", 0, 20),
        integer("logprobs", 0, 5),
        boolean("echo"),
        string("suffix"),
    ),
    EMBEDDINGS: (
        choice("encoding_format", "float", "base64"),
        integer("dimensions", 1),
        string("user"),
    ),
    MODERATIONS: (string("model"),),  # optional there: the default model when unset
}
_MAX_EMBEDDING_INPUTS = 2048


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


def _is_tokens(value: Any) -> bool:
    return (
        isinstance(value, list)
        and bool(value)
        and all(isinstance(t, int) and not isinstance(t, bool) for t in value)
    )


def _check_embedding_input(value: Any) -> None:
    """A string, or 1 to 2,048 of one kind: strings, token ids, or arrays of token ids."""
    if isinstance(value, str):
        return
    if not isinstance(value, list) or not value:
        raise InvalidRequest(
            "'input' must be a string or a non-empty array.", param="input", code="invalid_type"
        )
    if len(value) > _MAX_EMBEDDING_INPUTS:
        raise InvalidRequest(
            f"'input' must have at most {_MAX_EMBEDDING_INPUTS} items.",
            param="input",
            code="invalid_value",
        )
    if not (all(isinstance(v, str) for v in value) or _is_tokens(value)) and not all(
        _is_tokens(v) for v in value
    ):
        raise InvalidRequest(
            "'input' must be a string, an array of strings, an array of token ids "
            "(integers) or an array of such arrays.",
            param="input",
            code="invalid_type",
        )


def inspect(endpoint: str, body: Any) -> RequestFacts:
    """Check ``body`` for ``endpoint`` and return what routing and metering need."""
    if not isinstance(body, dict):
        raise InvalidRequest("The request body must be a JSON object.")
    if endpoint == MODERATIONS:
        OPENAI_FIELDS.check(body, FIELD_RULES[MODERATIONS])
        check_input(body.get("input"))
        if body.get("model") is None:
            body["model"] = DEFAULT_MODERATION_MODEL  # optional there, as at OpenAI
    model = body.get("model")
    if not isinstance(model, str) or not model:
        raise InvalidRequest("You must provide a model parameter.", param="model")
    field, types = _REQUIRED[endpoint]
    value = body.get(field)
    if value is None:
        raise InvalidRequest(f"Missing required parameter: '{field}'.", param=field)
    if not isinstance(value, types):
        raise InvalidRequest(f"Invalid type for '{field}'.", param=field, code="invalid_type")
    if endpoint == CHAT and isinstance(value, list):
        _check_messages(value)
    elif endpoint == EMBEDDINGS:
        _check_embedding_input(value)
    OPENAI_FIELDS.check(body, FIELD_RULES[endpoint])
    stream = body.get("stream", False)
    if stream is not None and not isinstance(stream, bool):
        raise InvalidRequest("'stream' must be a boolean.", param="stream", code="invalid_type")
    options = body.get("stream_options")
    if options is not None and not isinstance(options, dict):
        raise InvalidRequest(
            "'stream_options' must be an object.", param="stream_options", code="invalid_type"
        )
    if endpoint in _UNSTREAMED and stream:
        raise InvalidRequest(
            f"'stream' must be false: '{endpoint}' cannot be streamed.",
            param="stream",
            code="invalid_value",
        )
    include_usage = isinstance(options, dict) and options.get("include_usage") is True
    return RequestFacts(model=model, stream=bool(stream), include_usage=include_usage)
