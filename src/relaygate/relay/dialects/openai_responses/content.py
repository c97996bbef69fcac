"""Content parts of Responses input items to canonical blocks.

Text parts are read leniently (``input_text``, ``output_text``, ``text`` and
``refusal`` are all text, whichever role carries them: clients replay assistant turns
with either spelling). Images and files must travel inline or by URL: a ``file_id``
names a file in OpenAI's storage, which no other upstream can open, so it is refused
with a 400 rather than dropped (the model would answer without the file). A part's
``cache_control`` (a prompt-cache mark, as on Chat Completions) stays on its block.
"""

from __future__ import annotations

from typing import Any

from relaygate.core.errors import InvalidRequest
from relaygate.relay.canonical.messages import Block, Document, Image, Text, UrlSource
from relaygate.relay.dialects.content import image_source, inline_file, with_cache
from relaygate.relay.dialects.fields import OPENAI_FIELDS as FIELDS

__all__ = ["text_blocks", "tool_output", "user_blocks"]

_TEXT_KEYS = {"input_text": "text", "output_text": "text", "text": "text", "refusal": "refusal"}


def _parts(content: Any, param: str) -> list[dict[str, Any]]:
    if not isinstance(content, list):
        raise InvalidRequest(f"'{param}' must be a string or an array.", param=param)
    for index, part in enumerate(content):
        FIELDS.mapping(part, f"{param}[{index}]")
    return content


def _text(part: dict[str, Any], param: str) -> Text | None:
    key = _TEXT_KEYS.get(str(part.get("type")))
    if key is None:
        return None
    return with_cache(Text(FIELDS.string(part.get(key), f"{param}.{key}")), part, param)


def text_blocks(content: Any, param: str) -> list[Text]:
    """Text-only content (system, developer and assistant messages)."""
    if isinstance(content, str):
        return [Text(content)]
    texts = []
    for index, part in enumerate(_parts(content, param)):
        where = f"{param}[{index}]"
        text = _text(part, where)
        if text is None:
            raise InvalidRequest(
                f"Content of type {part.get('type')!r} is not allowed in this message.",
                param=where,
            )
        texts.append(text)
    return texts


def user_blocks(content: Any, param: str) -> list[Block]:
    if isinstance(content, str):
        return [Text(content)]
    return [_media_part(part, f"{param}[{i}]") for i, part in enumerate(_parts(content, param))]


def tool_output(output: Any, param: str) -> tuple[Text | Image | Document, ...]:
    """A ``function_call_output``'s output: a string, or text, image and file parts."""
    if isinstance(output, str):
        return (Text(output),)
    return tuple(_media_part(part, f"{param}[{i}]") for i, part in enumerate(_parts(output, param)))


def _media_part(part: dict[str, Any], param: str) -> Text | Image | Document:
    text = _text(part, param)
    if text is not None:
        return text
    kind = part.get("type")
    if kind == "input_image":
        return _image(part, param)
    if kind == "input_file":
        return _file(part, param)
    raise InvalidRequest(f"Unsupported content type {kind!r}.", param=f"{param}.type")


def _no_file_ids(part: dict[str, Any], param: str, instead: str) -> None:
    if part.get("file_id") is not None:
        raise InvalidRequest(
            f"File ids cannot be used with this model; send the content inline ({instead}).",
            param=f"{param}.file_id",
        )


def _image(part: dict[str, Any], param: str) -> Image:
    _no_file_ids(part, param, "image_url")
    url = part.get("image_url")
    if not isinstance(url, str):
        raise InvalidRequest("'image_url' must be a string.", param=f"{param}.image_url")
    return with_cache(Image(image_source(url, f"{param}.image_url")), part, param)


def _file(part: dict[str, Any], param: str) -> Document:
    _no_file_ids(part, param, "file_data")
    raw_name = part.get("filename")
    name = raw_name if isinstance(raw_name, str) and raw_name else None
    data, url = part.get("file_data"), part.get("file_url")
    if isinstance(data, str):
        return with_cache(inline_file(data, name, f"{param}.file_data"), part, param)
    if isinstance(url, str) and url.startswith(("https://", "http://")):
        return with_cache(Document(UrlSource(url), title=name), part, param)
    raise InvalidRequest("An input_file needs file_data or file_url.", param=param)
