"""OpenAI Chat Completions request body -> canonical request.

Runs only when the call goes to an upstream of another dialect (same-dialect calls are
relayed raw), so what the canonical request cannot carry faithfully (``n > 1``, audio,
file ids, the legacy ``functions`` protocol, custom tools) is refused with a 400 naming the
field, instead of being dropped and answered wrongly. Hints without a faithful mapping
(``logprobs``, ``seed``, penalties, …) are simply not read. See docs/compatibility.md.

Prompt-cache marks (Anthropic's ``cache_control``, which OpenRouter's OpenAI-format
clients put on content parts, ``tool_calls`` entries and ``tools`` entries) are kept on
the canonical blocks; one on a message itself marks that message's last block, so a
string ``content`` can be marked too.
"""

from __future__ import annotations

from typing import Any, Literal, TypeVar

import orjson

from relaygate.core.errors import InvalidRequest
from relaygate.relay.canonical.messages import (
    Block,
    Document,
    Image,
    Message,
    Reasoning,
    Request,
    ResponseSchema,
    Text,
    Tool,
    ToolCall,
    ToolChoice,
    ToolResult,
    known_effort,
)
from relaygate.relay.dialects.content import image_source, inline_file, with_cache
from relaygate.relay.dialects.fields import OPENAI_FIELDS as FIELDS

__all__ = ["arguments_object", "parse_request"]

_MODES: dict[str, Literal["auto", "none", "required"]] = {
    "auto": "auto",
    "none": "none",
    "required": "required",
}
_B = TypeVar("_B", bound=Block)
_MARKABLE = (Text, Image, Document, ToolCall, ToolResult)
_LEGACY = "The legacy 'functions'/'function_call' protocol cannot be translated; use 'tools'."


def arguments_object(raw: Any) -> dict[str, Any] | None:
    """The parsed arguments object, or None when they are not a JSON object."""
    if raw is None or (isinstance(raw, str) and not raw.strip()):
        return {}
    if isinstance(raw, dict):  # some servers send the object itself
        return raw
    try:
        parsed = orjson.loads(raw) if isinstance(raw, str) else None
    except orjson.JSONDecodeError:
        return None
    return parsed if isinstance(parsed, dict) else None


def parse_request(body: dict[str, Any]) -> Request:
    """Read an OpenAI chat request; raise InvalidRequest for what cannot be translated."""
    _reject_untranslatable(body)
    system, messages = _parse_messages(body.get("messages"))
    tools, choice = _parse_tools(body)
    user = body.get("user") or body.get("safety_identifier")
    parallel = body.get("parallel_tool_calls")
    return Request(
        model=FIELDS.string(body.get("model"), "model"),
        messages=messages,
        system=system,
        stream=body.get("stream") is True,
        max_tokens=FIELDS.positive(body, "max_completion_tokens")
        or FIELDS.positive(body, "max_tokens"),
        temperature=FIELDS.number(body, "temperature"),
        top_p=FIELDS.number(body, "top_p"),
        stop=_parse_stop(body.get("stop")),
        tools=tools,
        tool_choice=choice,
        parallel_tool_calls=parallel if isinstance(parallel, bool) and tools else None,
        reasoning=_parse_reasoning(body.get("reasoning_effort")),
        response_schema=_parse_response_format(body.get("response_format")),
        json_object=_format_type(body.get("response_format")) == "json_object",
        user=user if isinstance(user, str) and user else None,
    )


def _reject_untranslatable(body: dict[str, Any]) -> None:
    n = body.get("n")
    if n is not None and n != 1:
        raise InvalidRequest("Only n=1 can be translated for this model.", param="n")
    if body.get("functions") is not None or body.get("function_call") is not None:
        raise InvalidRequest(_LEGACY, param="functions")
    modalities = body.get("modalities")
    if isinstance(modalities, list) and "audio" in modalities:
        raise InvalidRequest("Audio output is not available for this model.", param="modalities")


def _parse_messages(raw: Any) -> tuple[list[Text], list[Message]]:
    system: list[Text] = []
    messages: list[Message] = []
    for index, item in enumerate(FIELDS.array(raw, "messages")):
        param = f"messages[{index}]"
        entry = FIELDS.mapping(item, param)
        role = entry.get("role")
        if role in ("system", "developer"):
            texts = _mark_last(_texts(entry.get("content"), f"{param}.content"), entry, param)
            if messages:
                messages.append(Message("system", list(texts)))
            else:
                system.extend(texts)
        elif role == "user":
            content = _user_content(entry.get("content"), param)
            messages.append(Message("user", _mark_last(content, entry, param)))
        elif role == "assistant":
            content = _assistant_content(entry, param)
            messages.append(Message("assistant", _mark_last(content, entry, param)))
        elif role == "tool":
            call_id = FIELDS.string(entry.get("tool_call_id"), f"{param}.tool_call_id")
            result = ToolResult(call_id, tuple(_texts(entry.get("content"), f"{param}.content")))
            messages.append(Message("user", [with_cache(result, entry, param)]))
        elif role == "function":
            raise InvalidRequest(_LEGACY, param=f"{param}.role")
        else:
            raise InvalidRequest(f"Unsupported role {role!r}.", param=f"{param}.role")
    return system, messages


def _mark_last(blocks: list[_B], entry: dict[str, Any], param: str) -> list[_B]:
    """``blocks`` with a message-level ``cache_control`` moved onto the last block (the
    breakpoint then falls where it would on the whole message)."""
    last = blocks[-1] if blocks else None
    if entry.get("cache_control") is not None and isinstance(last, _MARKABLE):
        blocks[-1] = with_cache(last, entry, param)
    return blocks


def _texts(content: Any, param: str) -> list[Text]:
    """Text-only content (system, developer, tool, assistant): a string or text parts."""
    if content is None:
        return []
    if isinstance(content, str):
        return [Text(content)]
    texts: list[Text] = []
    for index, part in enumerate(FIELDS.array(content, param)):
        entry = FIELDS.mapping(part, f"{param}[{index}]")
        if entry.get("type") not in ("text", "refusal"):
            raise InvalidRequest("Only text parts are allowed here.", param=f"{param}[{index}]")
        key = "text" if entry.get("type") == "text" else "refusal"
        text = Text(FIELDS.string(entry.get(key), f"{param}[{index}].{key}"))
        texts.append(with_cache(text, entry, f"{param}[{index}]"))
    return texts


def _user_content(content: Any, param: str) -> list[Block]:
    if isinstance(content, str):
        return [Text(content)]
    blocks: list[Block] = []
    for index, part in enumerate(FIELDS.array(content, f"{param}.content")):
        where = f"{param}.content[{index}]"
        blocks.append(_user_part(FIELDS.mapping(part, where), where))
    return blocks


def _user_part(part: dict[str, Any], param: str) -> Text | Image | Document:
    kind = part.get("type")
    if kind == "text":
        return with_cache(Text(FIELDS.string(part.get("text"), f"{param}.text")), part, param)
    if kind == "image_url":
        image = part.get("image_url")
        url = image.get("url") if isinstance(image, dict) else image
        source = image_source(FIELDS.string(url, f"{param}.image_url.url"), param)
        return with_cache(Image(source), part, param)
    if kind == "file":
        document = _file_part(FIELDS.mapping(part.get("file"), f"{param}.file"), param)
        return with_cache(document, part, param)
    if kind == "input_audio":
        raise InvalidRequest("Audio input cannot be translated for this model.", param=param)
    raise InvalidRequest(f"Unsupported content part type {kind!r}.", param=f"{param}.type")


def _file_part(file: dict[str, Any], param: str) -> Document:
    name = file.get("filename") if isinstance(file.get("filename"), str) else None
    data = file.get("file_data")
    if not isinstance(data, str):
        raise InvalidRequest(
            "Only inline files (file_data) can be translated, not file ids.", param=param
        )
    return inline_file(data, name, param)


def _assistant_content(entry: dict[str, Any], param: str) -> list[Block]:
    if entry.get("function_call") is not None:
        raise InvalidRequest(_LEGACY, param=f"{param}.function_call")
    blocks: list[Block] = list(_texts(entry.get("content"), f"{param}.content"))
    refusal = entry.get("refusal")
    if isinstance(refusal, str) and refusal:
        blocks.append(Text(refusal))
    calls = entry.get("tool_calls") or []
    for index, call in enumerate(FIELDS.array(calls, f"{param}.tool_calls")):
        blocks.append(
            _request_tool_call(FIELDS.mapping(call, f"{param}.tool_calls[{index}]"), param)
        )
    return blocks


def _request_tool_call(call: dict[str, Any], param: str) -> ToolCall:
    if call.get("type", "function") != "function":
        raise InvalidRequest("Only function tool calls can be translated.", param=param)
    function = FIELDS.mapping(call.get("function"), f"{param}.function")
    name = FIELDS.string(function.get("name"), f"{param}.function.name")
    arguments = arguments_object(function.get("arguments"))
    if arguments is None:
        raise InvalidRequest(
            f"The arguments of tool call {call.get('id')!r} ({name}) are not a JSON object.",
            param=f"{param}.tool_calls",
        )
    call_id = FIELDS.string(call.get("id"), f"{param}.tool_calls.id")
    return with_cache(ToolCall(call_id, name, arguments), call, f"{param}.tool_calls")


def _parse_tools(body: dict[str, Any]) -> tuple[list[Tool], ToolChoice | None]:
    tools = [
        _parse_tool(raw, f"tools[{i}]")
        for i, raw in enumerate(FIELDS.array(body.get("tools") or [], "tools"))
    ]
    choice = body.get("tool_choice")
    if choice is None or not tools:
        return tools, None
    if isinstance(choice, str) and choice in _MODES:
        return tools, ToolChoice(_MODES[choice])
    entry = FIELDS.mapping(choice, "tool_choice")
    if entry.get("type") == "function":
        name = FIELDS.string(
            FIELDS.mapping(entry.get("function"), "tool_choice").get("name"), "tool_choice"
        )
        return tools, ToolChoice("tool", name)
    if entry.get("type") == "allowed_tools":
        # a subset of the tools, to keep OpenAI's prompt cache: here, send only that subset
        allowed = FIELDS.mapping(entry.get("allowed_tools"), "tool_choice.allowed_tools")
        names = {
            item["function"].get("name")
            for item in FIELDS.array(allowed.get("tools"), "tool_choice.allowed_tools.tools")
            if isinstance(item, dict) and isinstance(item.get("function"), dict)
        }
        mode = _MODES["required" if allowed.get("mode") == "required" else "auto"]
        return [tool for tool in tools if tool.name in names], ToolChoice(mode)
    raise InvalidRequest("Unsupported tool_choice.", param="tool_choice")


def _parse_tool(raw: Any, param: str) -> Tool:
    entry = FIELDS.mapping(raw, param)
    if entry.get("type") != "function":
        raise InvalidRequest("Only function tools can be translated for this model.", param=param)
    function = FIELDS.mapping(entry.get("function"), f"{param}.function")
    description = function.get("description")
    strict = function.get("strict")
    parameters = function.get("parameters") or {"type": "object", "properties": {}}
    tool = Tool(
        name=FIELDS.string(function.get("name"), f"{param}.function.name"),
        description=description if isinstance(description, str) else None,
        parameters=FIELDS.mapping(parameters, f"{param}.function.parameters"),
        strict=strict if isinstance(strict, bool) else None,
    )
    marked = entry if entry.get("cache_control") is not None else function
    return with_cache(tool, marked, param)


def _parse_stop(stop: Any) -> list[str]:
    if stop is None:
        return []
    if isinstance(stop, str):
        return [stop]
    return [FIELDS.string(s, "stop") for s in FIELDS.array(stop, "stop")]


def _parse_reasoning(effort: Any) -> Reasoning | None:
    if effort is None or effort == "none":
        return None
    if (level := known_effort(effort)) is not None:
        return Reasoning(effort=level)
    raise InvalidRequest(f"Unsupported reasoning_effort {effort!r}.", param="reasoning_effort")


def _format_type(fmt: Any) -> Any:
    return fmt.get("type") if isinstance(fmt, dict) else None


def _parse_response_format(fmt: Any) -> ResponseSchema | None:
    if not isinstance(fmt, dict) or fmt.get("type") != "json_schema":
        return None  # text, or json_object (``Request.json_object``)
    spec = FIELDS.mapping(fmt.get("json_schema"), "response_format.json_schema")
    schema = FIELDS.mapping(spec.get("schema") or {"type": "object"}, "response_format.json_schema")
    strict = spec.get("strict")
    name = spec.get("name")
    return ResponseSchema(
        schema,
        name if isinstance(name, str) and name else "response",
        strict if isinstance(strict, bool) else None,
    )
