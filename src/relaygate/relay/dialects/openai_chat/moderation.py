"""The ``input`` of a ``/v1/moderations`` call, checked as OpenAI's schema describes it.

``input`` is a string, an array of strings, or an array of multimodal parts
(``{"type": "text", "text": …}`` / ``{"type": "image_url", "image_url": {"url": …}}``).
Anything else is refused here with a 400 naming the exact field, so a malformed call
never reaches (and is never billed by) an upstream. ``INPUT_SCHEMA`` is the same rule
for the routes' OpenAPI document, so what is documented is what is enforced.
"""

from __future__ import annotations

from typing import Any

from relaygate.core.errors import InvalidRequest
from relaygate.relay.dialects.fields import OPENAI_FIELDS

__all__ = ["INPUT_SCHEMA", "check_input"]

_TEXT_PART = {
    "type": "object",
    "required": ["type", "text"],
    "properties": {"type": {"enum": ["text"]}, "text": {"type": "string"}},
}
_IMAGE_PART = {
    "type": "object",
    "required": ["type", "image_url"],
    "properties": {
        "type": {"enum": ["image_url"]},
        "image_url": {
            "type": "object",
            "required": ["url"],
            "properties": {"url": {"type": "string"}},
        },
    },
}
INPUT_SCHEMA: dict[str, Any] = {
    "anyOf": [
        {"type": "string"},
        {"type": "array", "items": {"type": "string"}},
        {"type": "array", "items": {"oneOf": [_TEXT_PART, _IMAGE_PART]}},
    ]
}


def check_input(value: Any) -> None:
    """Raise :class:`InvalidRequest` (``param`` the offending field) unless ``value`` is
    one of the three shapes; an array is all strings or all parts, never a mix."""
    if isinstance(value, str):
        return
    items = OPENAI_FIELDS.array(value, "input") if value is not None else None
    if items is None:
        raise InvalidRequest("Missing required parameter: 'input'.", param="input")
    if all(isinstance(item, str) for item in items):
        return
    if any(isinstance(item, str) for item in items):
        raise InvalidRequest(
            "'input' must be an array of strings or an array of input objects, not both.",
            param="input",
            code="invalid_type",
        )
    for index, item in enumerate(items):
        _check_part(item, f"input[{index}]")


def _check_part(item: Any, param: str) -> None:
    part = OPENAI_FIELDS.mapping(item, param)
    kind = part.get("type")
    if kind == "text":
        OPENAI_FIELDS.string(part.get("text"), f"{param}.text")
    elif kind == "image_url":
        image = OPENAI_FIELDS.mapping(part.get("image_url"), f"{param}.image_url")
        OPENAI_FIELDS.string(image.get("url"), f"{param}.image_url.url")
    else:
        raise InvalidRequest(
            f"'{param}.type' must be one of 'text', 'image_url'.",
            param=f"{param}.type",
            code="invalid_value",
        )
