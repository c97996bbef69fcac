"""What every relay route's OpenAPI entry shares: the OpenAI error answers and tag."""

from __future__ import annotations

__all__ = ["OPENAI_ERRORS", "OPENAI_TAG"]

OPENAI_TAG = "relay (OpenAI compatible)"
_ERROR = {
    "description": "OpenAI error object",
    "content": {"application/json": {"schema": {"$ref": "#/components/schemas/OpenAIError"}}},
}
# 409 and 422: an upstream's, passed on as sent (docs/errors.md); 431: headers past the
# limit; 500: a bug (the connection closes after it)
OPENAI_ERRORS = {
    str(code): _ERROR for code in (400, 401, 402, 404, 409, 413, 422, 429, 431, 500, 502, 503, 504)
}
