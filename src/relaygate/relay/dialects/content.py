"""Content parts that several dialects send alike, read once into canonical content.

Images and files: Chat Completions and Responses both send an image as a URL string
(``https://…`` or a base64 ``data:`` URL) and a file inline as ``file_data`` (a data
URL, or bare base64), so both parsers read them here, by the same rules: a data URL
must be base64 (the canonical source holds base64 bytes; a percent-encoded one is
refused, not re-encoded), ``image/jpg`` is read as the registered ``image/jpeg`` (the
only name Anthropic accepts), and bare file data is typed by its name (``.txt`` and
``.md`` are text, anything else a PDF). What names the field in an error (``param``)
is the caller's.

Text: where a dialect nests text parts in something that is not a message (an
Anthropic search result, a Responses reasoning item), only the parts' text is kept and
anything else is skipped (:func:`part_texts`).

Prompt-cache marks: both OpenAI dialects may carry Anthropic's ``cache_control``
(``{"type": "ephemeral", "ttl": "5m"|"1h"}``) on a content part, a tool or a message, as
OpenRouter documents; :func:`with_cache` reads it onto the canonical block. A mark
Anthropic would refuse (another type, another ttl) is refused here with a 400 naming
the field, rather than dropped or passed on to fail upstream.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable
from typing import Any, Literal, TypeVar

from relaygate.core.errors import InvalidRequest
from relaygate.relay.canonical.messages import (
    Base64Source,
    CacheMark,
    Document,
    Image,
    Text,
    Tool,
    ToolCall,
    ToolResult,
    UrlSource,
)

__all__ = ["cache_mark", "image_source", "inline_file", "part_texts", "with_cache"]

Markable = TypeVar("Markable", bound=Text | Image | Document | ToolCall | ToolResult | Tool)
_TTLS: dict[object, Literal["5m", "1h"]] = {"5m": "5m", "1h": "1h"}


def cache_mark(raw: Any, param: str) -> CacheMark | None:
    """The mark a ``cache_control`` value asks for; None when there is none."""
    if raw is None:
        return None
    if not isinstance(raw, dict) or raw.get("type") != "ephemeral":
        raise InvalidRequest(
            '\'cache_control\' must be {"type": "ephemeral"} (with an optional ttl).',
            param=f"{param}.cache_control",
        )
    ttl = raw.get("ttl")
    if ttl is None:
        return CacheMark()
    if ttl not in _TTLS:
        raise InvalidRequest(
            '\'cache_control.ttl\' must be "5m" or "1h".', param=f"{param}.cache_control.ttl"
        )
    return CacheMark(_TTLS[ttl])


def with_cache(block: Markable, source: Any, param: str) -> Markable:
    """``block`` carrying the mark of ``source``'s ``cache_control`` (a part, tool or
    message object), or ``block`` itself when ``source`` has none."""
    raw = source.get("cache_control") if isinstance(source, dict) else None
    mark = cache_mark(raw, param)
    return block if mark is None else dataclasses.replace(block, cache=mark)


def _data_url(url: str, param: str) -> Base64Source:
    """The bytes of a ``data:`` URL (the caller checked the scheme)."""
    header, comma, data = url[len("data:") :].partition(",")
    media_type, *options = header.split(";")
    if not comma or "base64" not in options:
        raise InvalidRequest("Data URLs must be base64-encoded.", param=param)
    media_type = media_type.strip().lower()
    return Base64Source("image/jpeg" if media_type == "image/jpg" else media_type, data)


def image_source(url: str, param: str) -> Base64Source | UrlSource:
    """An image URL: inline when it is a data URL, else a web URL the upstream fetches."""
    if url.startswith("data:"):
        return _data_url(url, param)
    if url.startswith(("https://", "http://")):
        return UrlSource(url)
    raise InvalidRequest("Image URLs must be http(s) or base64 data URLs.", param=param)


def inline_file(data: str, name: str | None, param: str) -> Document:
    """A file sent inline: a data URL, or bare base64 typed by ``name``."""
    if data.startswith("data:"):
        return Document(_data_url(data, param), title=name)
    is_text = name is not None and name.lower().endswith((".txt", ".md"))
    return Document(Base64Source("text/plain" if is_text else "application/pdf", data), name)


def part_texts(parts: Iterable[Any]) -> list[str]:
    """The ``text`` of each part that has a string one, in order."""
    return [
        part["text"]
        for part in parts
        if isinstance(part, dict) and isinstance(part.get("text"), str)
    ]
