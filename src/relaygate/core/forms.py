"""Reading the platform's form bodies.

The platform's own routes take ``application/x-www-form-urlencoded`` bodies with JSON
arrays passed as JSON strings (``permissions=["gpt-4"]``, platform-api.md §1.4). JSON
bodies are accepted too, so a client may send either.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import parse_qsl

import orjson

from relaygate.core.errors import InvalidRequest

__all__ = ["parse_body", "parse_bool", "parse_json_list"]


def parse_body(body: bytes, content_type: str) -> dict[str, Any]:
    if not body.strip():
        return {}
    if content_type.startswith("application/json"):
        try:
            value = orjson.loads(body)
        except orjson.JSONDecodeError as exc:
            raise InvalidRequest("The body is not valid JSON.") from exc
        if not isinstance(value, dict):
            raise InvalidRequest("The body must be a JSON object.")
        return value
    try:
        return dict(parse_qsl(body.decode(), keep_blank_values=True, strict_parsing=False))
    except UnicodeDecodeError as exc:
        raise InvalidRequest("The form body is not valid UTF-8.") from exc


def parse_json_list(value: Any, field: str) -> list[str] | None:
    """A list of strings, given as a list or as a JSON string; ``""``/``null`` means none."""
    if value is None or value == "" or value == "null":
        return None
    if isinstance(value, str):
        try:
            value = orjson.loads(value)
        except orjson.JSONDecodeError as exc:
            raise InvalidRequest(
                f"'{field}' must be a JSON array of strings.", param=field
            ) from exc
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise InvalidRequest(f"'{field}' must be a JSON array of strings.", param=field)
    return value


def parse_bool(value: Any, field: str) -> bool:
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.lower() in ("true", "false", "1", "0"):
        return value.lower() in ("true", "1")
    raise InvalidRequest(f"'{field}' must be true or false.", param=field)
