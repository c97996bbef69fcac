"""Item shapes, pure: ids with OpenAI's prefixes, input items in their stored form, and
the stored chat messages as ``GET /v1/chat/completions/{id}/messages`` shows them.

A client may send an item in its short form (``{"role": "user", "content": "Hi"}``);
what is stored and listed is the full form OpenAI lists (``type``, ``id``, ``status``
and content parts), so a later page or a replayed history shows the same object
whichever form the client used.
"""

from __future__ import annotations

import os
from typing import Any

import orjson

from relaygate.core.errors import InvalidRequest

__all__ = [
    "chat_message",
    "check_sizes",
    "item_size",
    "new_id",
    "normalise_item",
    "with_id",
]

_ID_PREFIXES = {
    "message": "msg_",
    "function_call": "fc_",
    "function_call_output": "fco_",
    "reasoning": "rs_",
    "custom_tool_call": "ctc_",
    "custom_tool_call_output": "ctco_",
}
_ROLES = {"user", "assistant", "system", "developer"}


def new_id(prefix: str) -> str:
    """``prefix`` and 48 random hex digits, as OpenAI's ``resp_``/``conv_``/``msg_`` ids."""
    return prefix + os.urandom(24).hex()


def with_id(item: dict[str, Any]) -> dict[str, Any]:
    """An output item keeps its id; one without (a translator's slip) gets one."""
    if not item.get("id"):
        kind = item.get("type")
        return {**item, "id": new_id("msg_" if kind == "message" else "item_")}
    return item


def item_size(item: Any) -> int:
    """The item's size as stored (compact JSON), for the ``state_max_item_bytes`` check."""
    return len(orjson.dumps(item))


def check_sizes(items: list[Any], param: str, limit: int) -> None:
    """Refuse (400) an item larger than ``limit`` bytes, naming it (``input[2]``)."""
    for index, item in enumerate(items):
        try:
            size = item_size(item)
        except TypeError:  # orjson: an integer past 64 bits, which no store can hold
            raise InvalidRequest(
                f"Invalid '{param}[{index}]': a number in the item is beyond 64 bits.",
                param=f"{param}[{index}]",
            ) from None
        if size > limit:
            raise InvalidRequest(
                f"Invalid '{param}[{index}]': the item is {size} bytes; at most {limit} "
                "bytes per item are stored.",
                param=f"{param}[{index}]",
                code="item_too_large",
            )


def normalise_item(item: Any, param: str) -> dict[str, Any]:
    """The stored form of an input item; ``param`` names it in a 400 (``items[3]``).

    Items that already carry an id and a type (the relay normalises before it saves) come
    back unchanged, so normalising twice is harmless.
    """
    if not isinstance(item, dict):
        raise InvalidRequest(f"Invalid '{param}': expected an object.", param=param)
    kind = item.get("type") or "message"
    if not isinstance(kind, str):
        raise InvalidRequest(f"Invalid '{param}.type': expected a string.", param=f"{param}.type")
    if kind == "item_reference":
        raise InvalidRequest(
            f"Invalid '{param}': item references are not supported here; send the item itself.",
            param=param,
        )
    out = dict(item)
    out["type"] = kind
    if kind == "message":
        _message(out, param)
    if not isinstance(out.get("id"), str) or not out["id"]:
        out["id"] = new_id(_ID_PREFIXES.get(kind, "item_"))
    return out


def _message(out: dict[str, Any], param: str) -> None:
    role = out.get("role")
    if not isinstance(role, str) or role not in _ROLES:  # an object is not hashable
        raise InvalidRequest(
            f"Invalid '{param}.role': expected one of {', '.join(sorted(_ROLES))}.",
            param=f"{param}.role",
        )
    content = out.get("content")
    if isinstance(content, str):
        if role == "assistant":
            out["content"] = [{"type": "output_text", "text": content, "annotations": []}]
        else:
            out["content"] = [{"type": "input_text", "text": content}]
    elif not isinstance(content, list):
        raise InvalidRequest(
            f"Invalid '{param}.content': expected a string or an array of content parts.",
            param=f"{param}.content",
        )
    out.setdefault("status", "completed")


def chat_message(completion_id: str, index: int, message: Any) -> dict[str, Any]:
    """A request message of a stored chat completion, with its id and ``content_parts``.

    OpenAI names a stored message ``{completion_id}-{index}`` and shows array content
    both as parts (``content_parts``) and as its text joined (``content``).
    """
    fields = dict(message) if isinstance(message, dict) else {"content": message}
    content = fields.get("content")
    parts = None
    if isinstance(content, list):
        parts = content
        texts = [p.get("text", "") for p in content if isinstance(p, dict) and "text" in p]
        content = "".join(str(t) for t in texts) if texts else None
    return {
        **fields,
        "id": f"{completion_id}-{index}",
        "role": fields.get("role"),
        "content": content,
        "name": fields.get("name"),
        "content_parts": parts,
    }
