"""Wire shapes of the state routes (OpenAI's), and the checks OpenAI makes on them.

Request bodies are pydantic models so the OpenAPI document describes them; the stored
objects themselves (a Response, a chat completion, an item) are passed through as the
JSON they were, since the gateway does not own their schema.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, WithJsonSchema

from relaygate.core.errors import InvalidRequest

__all__ = [
    "MAX_ITEMS_PER_CALL",
    "ConversationCreate",
    "ConversationOut",
    "Deleted",
    "ItemsCreate",
    "MetadataUpdate",
    "ObjectList",
    "Page",
    "PageQuery",
    "check_metadata",
    "list_out",
]

MAX_ITEMS_PER_CALL = 20  # OpenAI: "You may add up to 20 items at a time."
MAX_METADATA_PAIRS = 16
MAX_METADATA_KEY = 64
MAX_METADATA_VALUE = 512
# check_metadata's rule, said in the OpenAPI document
METADATA_SCHEMA: dict[str, Any] = {
    "type": "object",
    "maxProperties": MAX_METADATA_PAIRS,
    "propertyNames": {"maxLength": MAX_METADATA_KEY},
    "additionalProperties": {"type": "string", "maxLength": MAX_METADATA_VALUE},
}
Metadata = Annotated[dict[str, Any], WithJsonSchema(METADATA_SCHEMA)]
_TEXT_PART: dict[str, Any] = {
    "type": "object",
    "required": ["type", "text"],
    "properties": {
        "type": {"enum": ["input_text", "output_text"]},
        "text": {"type": "string", "maxLength": 4000},
    },
    "additionalProperties": False,
}
# An input item as items.normalise_item accepts it, said for message items (the kind a
# client adds by hand): a role and text or content parts. Other item types (function
# calls and their outputs, ...) are stored as sent when they carry their ``type``; they
# are left out here because only a message's fields are checked. Bounded and closed (no
# other fields), so a valid item stays under the per-item size limit and holds no number
# a store cannot keep.
MESSAGE_ITEM_SCHEMA: dict[str, Any] = {
    "type": "object",
    "required": ["role", "content"],
    "properties": {
        "type": {"const": "message"},
        "role": {"enum": ["user", "assistant", "system", "developer"]},
        "content": {
            "anyOf": [
                {"type": "string", "maxLength": 4000},
                {"type": "array", "maxItems": 16, "items": _TEXT_PART},
            ]
        },
        "id": {"type": "string", "maxLength": 100},
    },
    "additionalProperties": False,
}
MessageItem = Annotated[dict[str, Any], WithJsonSchema(MESSAGE_ITEM_SCHEMA)]


class ConversationCreate(BaseModel):
    model_config = ConfigDict(extra="ignore")

    items: list[MessageItem] | None = Field(default=None, max_length=MAX_ITEMS_PER_CALL)
    metadata: Metadata | None = None


class ItemsCreate(BaseModel):
    model_config = ConfigDict(extra="ignore")

    items: list[MessageItem] = Field(max_length=MAX_ITEMS_PER_CALL)


class MetadataUpdate(BaseModel):
    """The only field an update may change; ``null`` clears the metadata."""

    model_config = ConfigDict(extra="ignore")

    metadata: Metadata | None


class ConversationOut(BaseModel):
    id: str
    object: Literal["conversation"] = "conversation"
    created_at: int
    metadata: dict[str, str]


class Deleted(BaseModel):
    id: str
    object: str
    deleted: bool


class ObjectList(BaseModel):
    """OpenAI's cursor page; ``first_id``/``last_id`` are null on an empty page."""

    object: Literal["list"] = "list"
    data: list[dict[str, Any]]
    first_id: str | None
    last_id: str | None
    has_more: bool


@dataclass(frozen=True, slots=True)
class PageQuery:
    """One page of a list: after which id, how many, which way."""

    after: str | None
    limit: int
    descending: bool


@dataclass(frozen=True, slots=True)
class Page:
    data: list[dict[str, Any]]
    has_more: bool


def list_out(page: Page) -> dict[str, Any]:
    data = page.data
    return {
        "object": "list",
        "data": data,
        "first_id": data[0].get("id") if data else None,
        "last_id": data[-1].get("id") if data else None,
        "has_more": page.has_more,
    }


def check_metadata(value: Any, param: str = "metadata") -> dict[str, str]:
    """OpenAI's metadata rule: at most 16 pairs, keys ≤ 64 and string values ≤ 512."""
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise InvalidRequest(f"Invalid '{param}': expected an object.", param=param)
    if len(value) > MAX_METADATA_PAIRS:
        raise InvalidRequest(
            f"Invalid '{param}': too many properties. Expected an object with at most "
            f"{MAX_METADATA_PAIRS} properties, but got an object with {len(value)} "
            "properties instead.",
            param=param,
        )
    for key, text in value.items():
        if len(key) > MAX_METADATA_KEY:
            raise InvalidRequest(
                f"Invalid '{param}': key '{key[:MAX_METADATA_KEY]}…' is longer than "
                f"{MAX_METADATA_KEY} characters.",
                param=param,
            )
        if not isinstance(text, str):
            raise InvalidRequest(
                f"Invalid '{param}.{key}': expected a string.", param=f"{param}.{key}"
            )
        if len(text) > MAX_METADATA_VALUE:
            raise InvalidRequest(
                f"Invalid '{param}.{key}': string too long. Expected a string with maximum "
                f"length {MAX_METADATA_VALUE}, but got a string with length {len(text)} "
                "instead.",
                param=f"{param}.{key}",
            )
    return dict(value)
