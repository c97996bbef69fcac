"""OpenAPI description of the raw-ASGI relay routes (the framework cannot see them).

Bodies follow OpenAI's and Anthropic's published schemas; only what the gateway itself
checks is spelled out, and every other field is passed to the upstream as sent.

The route groups serve every ``/v1`` route below their prefix (relay/groups.py), so the
document lists each ``/v1`` operation again under each group, tagged with the group:
:func:`group_paths`, applied to the whole document (the control plane's state routes
are ``/v1`` routes too).
"""

from __future__ import annotations

from typing import Any

from relaygate.core.openapi import SSE_CONTENT
from relaygate.relay.dialects.anthropic_messages.request import COMPLETE, MESSAGES
from relaygate.relay.dialects.anthropic_messages.request import FIELD_RULES as ANTHROPIC_RULES
from relaygate.relay.dialects.fields import schema as fields_schema
from relaygate.relay.dialects.openai_chat.moderation import INPUT_SCHEMA as MODERATION_INPUT
from relaygate.relay.dialects.openai_chat.request import CHAT, COMPLETIONS, EMBEDDINGS
from relaygate.relay.dialects.openai_chat.request import FIELD_RULES as OPENAI_RULES
from relaygate.relay.dialects.openai_responses.input import DROPPED_ITEMS
from relaygate.relay.dialects.openai_responses.request import FIELD_RULES as RESPONSES_RULES
from relaygate.relay.groups import ROUTE_GROUPS
from relaygate.relay.media.openapi import media_paths
from relaygate.relay.openapi_common import OPENAI_ERRORS as _ERRORS
from relaygate.relay.openapi_common import OPENAI_TAG as _OPENAI_TAG

__all__ = ["group_paths", "group_tags", "relay_paths"]

_ANTHROPIC_ERROR = {
    "description": "Anthropic error object",
    "content": {"application/json": {"schema": {"$ref": "#/components/schemas/AnthropicError"}}},
}
_ANTHROPIC_ERRORS = {
    str(code): _ANTHROPIC_ERROR
    # 403: a model the key may not use (Anthropic's permission_error, its Dialect record)
    for code in (400, 401, 402, 403, 404, 409, 413, 422, 429, 431, 500, 502, 503, 504, 529)
}
_ANTHROPIC_TAG = "relay (Anthropic compatible)"
_EXAMPLE_MODEL = {_OPENAI_TAG: "gpt-4o-mini", _ANTHROPIC_TAG: "claude-sonnet-4-5"}


def _messages(roles: list[str] | None = None) -> dict[str, Any]:
    """Chat messages: at least one, each an object with a ``role``; Anthropic's (``roles``
    given) also need their ``content``, a string or an array of blocks."""
    if roles is None:
        message = {
            "type": "object",
            "required": ["role"],
            "properties": {"role": {"type": "string"}},
        }
    else:
        blocks = {"type": "array", "items": {"type": "object"}}
        content = {"anyOf": [{"type": "string"}, blocks]}
        message = {
            "type": "object",
            "required": ["role", "content"],
            "properties": {"role": {"enum": roles}, "content": content},
        }
    return {"type": "array", "minItems": 1, "items": message}


_ANTHROPIC_ROLES = ["user", "assistant"]
_TEXT_OR_LIST = {"anyOf": [{"type": "string"}, {"type": "array"}]}
_POSITIVE = {"type": "integer", "minimum": 1}
_TEXT_PART = {
    "type": "object",
    "required": ["type", "text"],
    "properties": {"type": {"const": "input_text"}, "text": {"type": "string"}},
    "additionalProperties": False,
}


def _item(kind: str | list[str], required: list[str], **fields: Any) -> dict[str, Any]:
    """One kind of Responses input item (``kind``: its ``type``, or the choices)."""
    type_ = {"const": kind} if isinstance(kind, str) else {"enum": kind}
    return {
        "type": "object",
        "required": ["type", *required],
        "properties": {"type": type_, **fields},
        "additionalProperties": False,
    }


_CALL_ID = {"type": "string", "minLength": 1, "maxLength": 100}
# The input items openai_responses/input.py reads. Documented narrowly: a message's parts
# are text (a user message may also carry input_image and input_file parts); a function
# call's arguments are JSON object text (any object; shown as "{}"); an item_reference
# must name an item of the same input, which no schema can say, so it is left out.
_INPUT_ITEM = {
    "anyOf": [
        {
            "type": "object",
            "required": ["role", "content"],
            "properties": {
                "type": {"const": "message"},
                "role": {"enum": ["user", "assistant", "system", "developer"]},
                "content": {"anyOf": [{"type": "string"}, {"type": "array", "items": _TEXT_PART}]},
            },
            "additionalProperties": False,
        },
        _item(
            "function_call",
            ["call_id", "name"],
            call_id=_CALL_ID,
            name={"type": "string", "pattern": "^[A-Za-z0-9_-]{1,64}$"},
            arguments={"type": "string", "pattern": "^(\\{\\})?$"},
        ),
        _item(
            "function_call_output",
            ["call_id", "output"],
            call_id=_CALL_ID,
            output={"type": "string"},
        ),
        _item("reasoning", []),
        # traces of OpenAI's hosted tools: accepted and dropped when translated
        _item(sorted(DROPPED_ITEMS), []),
    ],
}
_TURN_SOURCES = ("input", "previous_response_id", "conversation")
# What the gateway itself checks of each body (relay/dialects/*/request.py), by route.
_FIELDS: dict[str, dict[str, Any]] = {
    "chat": {"messages": _messages()},
    "completions": {"prompt": _TEXT_OR_LIST},
    "embeddings": {"input": _TEXT_OR_LIST},
    "moderations": {"input": MODERATION_INPUT},
    "responses": {
        "input": {"anyOf": [{"type": "string"}, {"type": "array", "items": _INPUT_ITEM}]},
        "previous_response_id": {"type": "string", "minLength": 1},
        "conversation": {
            "anyOf": [
                {"type": "string", "minLength": 1},
                {
                    "type": "object",
                    "required": ["id"],
                    "properties": {"id": {"type": "string", "minLength": 1}},
                },
            ]
        },
    },
    "compact": {
        "input": {"anyOf": [{"type": "string"}, {"type": "array", "items": _INPUT_ITEM}]},
        "previous_response_id": {"type": "string", "minLength": 1},
        "instructions": {"type": "string"},
    },
    "messages": {"messages": _messages(_ANTHROPIC_ROLES), "max_tokens": _POSITIVE},
    "count_tokens": {
        "messages": _messages(_ANTHROPIC_ROLES),
        "stream": {"type": "boolean", "enum": [False]},
    },
    "complete": {
        # at least one non-empty "\n\nHuman:" turn (legacy.py), its text on the same line
        "prompt": {"type": "string", "pattern": "\n\nHuman: *\\S"},
        "max_tokens_to_sample": _POSITIVE,
    },
}


_STORED_FILES = (
    "A content part may name one of the caller's stored files by its `fileUniqueID` "
    '(docs/storage.md, "Files as model inputs"): an image URL or file URL '
    "`relaygate-file://<id>`, or a `file_id` (Chat `file` parts, Responses `input_image` "
    "and `input_file`, Messages `image` and `document` blocks with a `file` source). "
    "Relaygate sends the upstream the file inline. Another user's, an unknown or an "
    "expired id is a 400 naming it."
)


def _post(
    summary: str, shape: str, required: list[str], streams: bool, tag: str = _OPENAI_TAG
) -> dict[str, Any]:
    properties: dict[str, Any] = {
        "model": {"type": "string", "minLength": 1, "example": _EXAMPLE_MODEL[tag]}
    }
    if streams:
        properties["stream"] = {"type": "boolean"}
    properties.update(_FIELDS[shape])
    schema: dict[str, Any] = {
        "type": "object",
        "required": required,
        "properties": properties,
        "additionalProperties": True,
    }
    if shape == "compact":
        schema["anyOf"] = [{"required": [name]} for name in _TURN_SOURCES[:2]]
    if shape == "responses":  # input, or a stored turn to continue from (not both kinds)
        schema["anyOf"] = [{"required": [name]} for name in _TURN_SOURCES]
        schema["not"] = {"required": list(_TURN_SOURCES[1:])}
    content = {"application/json": {"schema": {"type": "object"}}}
    if streams:
        content["text/event-stream"] = SSE_CONTENT
    return {
        "post": {
            "tags": [tag],
            "summary": summary,
            "security": [{"bearer": []}, {"apiKey": []}],
            "requestBody": {"required": True, "content": {"application/json": {"schema": schema}}},
            "responses": {
                "200": {"description": "The upstream's answer", "content": content},
                **(_ANTHROPIC_ERRORS if tag == _ANTHROPIC_TAG else _ERRORS),
            },
        }
    }


def _get(summary: str, parameters: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    return {
        "get": {
            "tags": [_OPENAI_TAG],
            "summary": summary,
            "security": [{"bearer": []}, {"apiKey": []}],
            "parameters": parameters or [],
            "responses": {
                "200": {
                    "description": "OK",
                    "content": {"application/json": {"schema": {"type": "object"}}},
                },
                **_ERRORS,
            },
        }
    }


def relay_paths() -> tuple[dict[str, Any], dict[str, Any], dict[str, Any]]:
    """Paths, component schemas and security schemes to merge into the OpenAPI document."""
    model_param = [{"name": "model", "in": "path", "required": True, "schema": {"type": "string"}}]
    chat = _post("Create a chat completion (stream or not)", "chat", ["model", "messages"], True)
    messages = _post(
        "Create a message (Anthropic Messages API, stream or not; `?beta=true` accepted)",
        "messages",
        ["model", "messages", "max_tokens"],
        True,
        _ANTHROPIC_TAG,
    )
    count = _post(
        "Count a message's input tokens (the upstream's count, or a local estimate)",
        "count_tokens",
        ["model", "messages"],
        False,
        _ANTHROPIC_TAG,
    )
    models = _get(
        "List the models this key may use (Anthropic's shape when `anthropic-version` is sent)"
    )
    responses = _post(
        "Create a model response (Responses API, stream or not; served on every channel, "
        "with `previous_response_id` and `conversation` kept by Relaygate)",
        "responses",
        ["model"],
        True,
    )
    compact = _post(
        "Compact a conversation (`CompactResource`: one `compaction` item to send back as "
        "the first input of later turns; served on every channel, docs/state.md)",
        "compact",
        ["model"],
        False,
    )
    for stored_files in (chat, responses, messages):
        stored_files["post"]["description"] = _STORED_FILES
    paths = {
        "/v1/chat/completions": chat,
        "/v1/responses": responses,
        "/v1/responses/compact": compact,
        "/v1/completions": _post(
            "Create a legacy text completion", "completions", ["model", "prompt"], True
        ),
        "/v1/embeddings": _post(
            "Create embeddings (float or base64)", "embeddings", ["model", "input"], False
        ),
        "/v1/moderations": _post(
            "Classify text (or images) for moderation (model optional)",
            "moderations",
            ["input"],
            False,
        ),
        "/v1/messages": messages,
        "/v1/messages/count_tokens": count,
        "/v1/complete": _post(
            "Create a legacy Anthropic text completion (served through Messages)",
            "complete",
            ["model", "prompt", "max_tokens_to_sample"],
            True,
            _ANTHROPIC_TAG,
        ),
        "/v1/models": models,
        "/v1/models/{model}": _get("Retrieve a model", model_param),
    }
    schemas = {
        "OpenAIError": {
            "type": "object",
            "properties": {
                "error": {
                    "type": "object",
                    "properties": {
                        "message": {"type": "string"},
                        "type": {"type": "string"},
                        "param": {"type": "string", "nullable": True},
                        "code": {"type": "string", "nullable": True},
                    },
                }
            },
        }
    }
    schemas["AnthropicError"] = {
        "type": "object",
        "properties": {
            "type": {"type": "string", "enum": ["error"]},
            "error": {
                "type": "object",
                "properties": {"type": {"type": "string"}, "message": {"type": "string"}},
            },
            "request_id": {"type": "string"},
        },
    }
    _document_fields(paths)
    media, media_schemas = media_paths()  # images and audio: relay/media/openapi.py
    paths.update(media)
    schemas.update(media_schemas)
    security = {
        "bearer": {"type": "http", "scheme": "bearer"},
        "apiKey": {"type": "apiKey", "in": "header", "name": "x-api-key"},
    }
    return paths, schemas, security


# token ids are integers the JSON parser reads as such: 64-bit (a larger number is a float)
_TOKEN_ID = {"type": "integer", "minimum": -(2**63), "maximum": 2**63 - 1}
_TOKENS = {"type": "array", "minItems": 1, "items": _TOKEN_ID}
_LIMIT = {"type": "integer", "minimum": 1, "maximum": 2**63 - 1}
# The body fields each route checks, as the checks themselves declare them
# (dialects/fields.py): what the document says is what a request is refused for.
_CHECKED: dict[str, dict[str, Any]] = {
    "/v1/chat/completions": {
        **fields_schema(OPENAI_RULES[CHAT]),
        "messages": {
            "type": "array",
            "minItems": 1,
            "items": {
                "type": "object",
                "required": ["role"],
                "properties": {"role": {"type": "string"}},
            },
        },
    },
    "/v1/completions": {
        **fields_schema(OPENAI_RULES[COMPLETIONS]),
        "prompt": {"type": ["string", "array"]},
    },
    "/v1/embeddings": {
        **fields_schema(OPENAI_RULES[EMBEDDINGS]),
        "input": {
            "oneOf": [
                {"type": "string"},
                {"type": "array", "minItems": 1, "maxItems": 2048, "items": {"type": "string"}},
                {**_TOKENS, "maxItems": 2048},
                {"type": "array", "minItems": 1, "maxItems": 2048, "items": _TOKENS},
            ]
        },
        "stream": {"type": ["boolean", "null"], "enum": [False, None]},
    },
    "/v1/responses": fields_schema(RESPONSES_RULES),
    # the token limit is required and never null (request.py's _require_positive_int)
    "/v1/messages": {**fields_schema(ANTHROPIC_RULES[MESSAGES]), "max_tokens": _LIMIT},
    "/v1/complete": {
        **fields_schema(ANTHROPIC_RULES[COMPLETE]),
        "max_tokens_to_sample": _LIMIT,
    },
}


def _document_fields(paths: dict[str, Any]) -> None:
    """Add the checked fields to each relay route's request schema (the route groups'
    copies, made later, share the schema objects, so they are covered too)."""
    for path, properties in _CHECKED.items():
        body = paths[path]["post"]["requestBody"]["content"]["application/json"]["schema"]
        body["properties"].update(properties)


_GROUP_CLIENTS = {"cc-omg": "Claude Code", "codex-omg": "Codex"}
_METHODS = frozenset({"get", "put", "post", "delete", "options", "head", "patch", "trace"})


def _group_tag(group: str) -> str:
    return f"route group {group} ({_GROUP_CLIENTS.get(group, group)})"


def group_tags() -> list[dict[str, str]]:
    """The route groups' tags, each with what the group is."""
    return [
        {
            "name": _group_tag(group),
            "description": f"Every `/v1` route again below `{prefix}` (and `{prefix}/models`), "
            "answering exactly as on `/v1`; a billed call is priced with the group's "
            "multiplier and spends the group's resource packages first (docs/clients.md).",
        }
        for group, prefix in ROUTE_GROUPS.items()
    ]


def _in_group(item: dict[str, Any], group: str, suffix: str) -> dict[str, Any]:
    """A ``/v1`` path item as a group's copy: its operations tagged with the group, with
    unique operationIds (the schemas and parameters are shared, not copied)."""
    copy = dict(item)
    for method in _METHODS.intersection(item):
        operation = copy[method] = {**item[method], "tags": [_group_tag(group)]}
        if "operationId" in operation:
            operation["operationId"] += suffix
    return copy


def group_paths(paths: dict[str, Any]) -> dict[str, Any]:
    """Each ``/v1`` path of the document again below each route group's prefix, plus the
    group's ``models`` without ``/v1`` (the form Claude Code's setup uses)."""
    grouped: dict[str, Any] = {}
    for group, prefix in ROUTE_GROUPS.items():
        for path, item in paths.items():
            if not path.startswith("/v1/"):
                continue
            suffix = "__" + group.replace("-", "_")
            grouped[prefix + path] = _in_group(item, group, suffix)
            if path.startswith("/v1/models"):
                short = prefix + path.removeprefix("/v1")
                grouped[short] = _in_group(item, group, suffix + "_short")
    return grouped
