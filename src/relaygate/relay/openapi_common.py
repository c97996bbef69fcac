"""What every relay route's OpenAPI entry shares: the OpenAI error answers and tag."""

from __future__ import annotations

__all__ = ["OPENAI_ERRORS", "OPENAI_TAG"]

OPENAI_TAG = "relay (OpenAI compatible)"
_ERROR = {
    "description": "OpenAI error object",
    "content": {"application/json": {"schema": {"$ref": "#/components/schemas/OpenAIError"}}},
}
OPENAI_ERRORS = {str(code): _ERROR for code in (400, 401, 402, 404, 413, 429, 502, 503, 504)}
