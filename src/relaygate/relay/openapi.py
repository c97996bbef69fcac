"""OpenAPI description of the raw-ASGI relay routes (the framework cannot see them).

Bodies follow OpenAI's published schemas; only what the gateway itself checks is spelled
out, and every other field is passed to the upstream as sent.
"""

from __future__ import annotations

from typing import Any

__all__ = ["relay_paths"]

_ERROR = {
    "description": "OpenAI error object",
    "content": {"application/json": {"schema": {"$ref": "#/components/schemas/OpenAIError"}}},
}
_ERRORS = {str(code): _ERROR for code in (400, 401, 404, 413, 429, 502, 503, 504)}


def _post(summary: str, required: list[str], streams: bool) -> dict[str, Any]:
    schema: dict[str, Any] = {
        "type": "object",
        "required": required,
        "properties": {"model": {"type": "string"}, "stream": {"type": "boolean"}}
        if streams
        else {"model": {"type": "string"}},
        "additionalProperties": True,
    }
    content = {"application/json": {"schema": {"type": "object"}}}
    if streams:
        content["text/event-stream"] = {"schema": {"type": "string"}}
    return {
        "post": {
            "tags": ["relay (OpenAI compatible)"],
            "summary": summary,
            "security": [{"bearer": []}, {"apiKey": []}],
            "requestBody": {"required": True, "content": {"application/json": {"schema": schema}}},
            "responses": {
                "200": {"description": "The upstream's answer", "content": content},
                **_ERRORS,
            },
        }
    }


def _get(summary: str, parameters: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    return {
        "get": {
            "tags": ["relay (OpenAI compatible)"],
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
    paths = {
        "/v1/chat/completions": _post(
            "Create a chat completion (stream or not)", ["model", "messages"], True
        ),
        "/v1/completions": _post("Create a legacy text completion", ["model", "prompt"], True),
        "/v1/embeddings": _post("Create embeddings (float or base64)", ["model", "input"], False),
        "/v1/models": _get("List the models this key may use"),
        "/v1/models/{model}": _get(
            "Retrieve a model",
            [{"name": "model", "in": "path", "required": True, "schema": {"type": "string"}}],
        ),
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
    security = {
        "bearer": {"type": "http", "scheme": "bearer"},
        "apiKey": {"type": "apiKey", "in": "header", "name": "x-api-key"},
    }
    return paths, schemas, security
