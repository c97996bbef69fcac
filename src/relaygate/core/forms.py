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

__all__ = [
    "BOOL_JSON",
    "BOOL_TEXT",
    "MONEY_JSON",
    "MONEY_TEXT",
    "NAMES_JSON",
    "NAMES_TEXT",
    "TIME_TEXT",
    "form_body",
    "parse_body",
    "parse_bool",
    "parse_json_list",
]


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


# --- documenting form bodies -------------------------------------------------------------
# What the parsers above accept, as the OpenAPI document says it: a form body carries only
# text, so its numbers, booleans and lists are strings of a stated shape; a JSON body may
# send them as JSON values. Each shape is at most as wide as the parser: a request valid
# under the schema is accepted (or refused for a documented business reason).

# A money amount in currency units, exact to the micro-unit (parse_money), not negative.
MONEY_TEXT: dict[str, Any] = {
    "type": "string",
    "pattern": "^[0-9]{1,12}(\\.[0-9]{1,6})?$",
    "description": 'Currency units, at most 6 decimals (`"5"`, `"0.25"`).',
}
MONEY_JSON: dict[str, Any] = {
    "anyOf": [{"type": "integer", "minimum": 0, "maximum": 10**12 - 1}, MONEY_TEXT]
}
# A UTC time (ISO 8601; other ISO 8601 forms with a zone offset are accepted too), or ""
# for none.
TIME_TEXT: dict[str, Any] = {
    "type": "string",
    "pattern": (
        "^((19|20)[0-9]{2}-(0[1-9]|1[0-2])-(0[1-9]|1[0-9]|2[0-8])"
        "T([01][0-9]|2[0-3]):[0-5][0-9]:[0-5][0-9]Z)?$"
    ),
    "description": "An ISO 8601 time such as `2027-01-31T00:00:00Z`; empty for none.",
}
BOOL_TEXT: dict[str, Any] = {"type": "string", "enum": ["true", "false", "1", "0"]}
BOOL_JSON: dict[str, Any] = {"anyOf": [{"type": "boolean"}, BOOL_TEXT]}
# A list of model names: a JSON array in a JSON body, the array's JSON text in a form.
_NAME = '"[A-Za-z0-9._:/-]{1,100}"'
NAMES_TEXT: dict[str, Any] = {
    "type": "string",
    "pattern": f"^\\[({_NAME}(,{_NAME}){{0,19}})?\\]$",
    "description": 'A JSON array of model names, e.g. `["gpt-4o"]`; `[]` for every model.',
}
NAMES_JSON: dict[str, Any] = {
    "anyOf": [
        {"type": "array", "maxItems": 100, "items": {"type": "string", "maxLength": 200}},
        NAMES_TEXT,
    ]
}


def form_body(
    form: dict[str, Any], json: dict[str, Any] | None = None, required: tuple[str, ...] = ()
) -> dict[str, Any]:
    """``openapi_extra`` for a route reading :func:`parse_body`: the body's fields as a
    form (``form``: each a string schema) and as JSON (``json`` overrides the fields a
    JSON body may send as other JSON values). Both media types are documented because both
    are accepted."""

    def schema(properties: dict[str, Any]) -> dict[str, Any]:
        out: dict[str, Any] = {"type": "object", "properties": properties}
        if required:
            out["required"] = list(required)
        return out

    return {
        "requestBody": {
            "required": bool(required),
            "content": {
                "application/x-www-form-urlencoded": {"schema": schema(form)},
                "application/json": {"schema": schema({**form, **(json or {})})},
            },
        }
    }
