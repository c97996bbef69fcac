"""Anthropic Messages request body -> canonical request.

Runs only when a Messages call (typically Claude Code) goes to an OpenAI-compatible
upstream, so it keeps what such an upstream can act on and lets go of what only
Anthropic's servers implement: server tools and their result blocks, ``cache_control``,
``context_management``, ``container``. Content whose loss would change the answer (an
image given as an Anthropic file id) is refused with a 400 instead. See
docs/compatibility.md.
"""

from __future__ import annotations

from typing import Any, Literal

from relaygate.core.errors import InvalidRequest
from relaygate.relay.canonical.messages import (
    Base64Source,
    Block,
    Document,
    Image,
    Message,
    Reasoning,
    RedactedThinking,
    Request,
    ResponseSchema,
    Role,
    Text,
    TextSource,
    Thinking,
    Tool,
    ToolCall,
    ToolChoice,
    ToolResult,
    UrlSource,
    known_effort,
)
from relaygate.relay.dialects.content import part_texts
from relaygate.relay.dialects.fields import ANTHROPIC_FIELDS as FIELDS

__all__ = ["parse_request"]

# Claude Code's first system block is billing metadata for Anthropic's servers, not an
# instruction; its per-build value would also defeat the upstream's prefix cache.
_BILLING_HEADER = "x-anthropic-billing-header:"
_ROLES: dict[str, Role] = {"user": "user", "assistant": "assistant", "system": "system"}
_CHOICES: dict[str, Literal["auto", "required", "none", "tool"]] = {
    "auto": "auto",
    "any": "required",
    "none": "none",
    "tool": "tool",
}


def parse_request(body: dict[str, Any]) -> Request:
    """Read a Messages request; raise InvalidRequest for what cannot be translated."""
    max_tokens, top_k = body.get("max_tokens"), body.get("top_k")
    tools = [
        tool
        for i, raw in enumerate(FIELDS.array(body.get("tools") or [], "tools"))
        if (tool := _tool(raw, i))
    ]
    choice = body.get("tool_choice")
    serial = isinstance(choice, dict) and choice.get("disable_parallel_tool_use") is True
    metadata = body.get("metadata")
    user = metadata.get("user_id") if isinstance(metadata, dict) else None
    output_config = body.get("output_config")
    output = output_config if isinstance(output_config, dict) else {}
    stops = FIELDS.array(body.get("stop_sequences") or [], "stop_sequences")
    return Request(
        model=FIELDS.string(body.get("model"), "model"),
        messages=_messages(body.get("messages")),
        system=_system(body.get("system")),
        stream=body.get("stream") is True,
        max_tokens=max_tokens if isinstance(max_tokens, int) and max_tokens > 0 else None,
        temperature=FIELDS.number(body, "temperature"),
        top_p=FIELDS.number(body, "top_p"),
        top_k=top_k if isinstance(top_k, int) and not isinstance(top_k, bool) else None,
        stop=[FIELDS.string(stop, "stop_sequences") for stop in stops],
        tools=tools,
        tool_choice=_tool_choice(choice) if tools else None,
        parallel_tool_calls=False if tools and serial else None,
        reasoning=_reasoning(body.get("thinking"), output.get("effort")),
        response_schema=_output_format(output.get("format")),
        user=user if isinstance(user, str) and user else None,
    )


def _system(system: Any) -> list[Text]:
    if system is None:
        return []
    if isinstance(system, str):
        return [Text(system)] if system else []
    texts: list[Text] = []
    for index, block in enumerate(FIELDS.array(system, "system")):
        entry = FIELDS.mapping(block, f"system.{index}")
        if entry.get("type") != "text":
            raise InvalidRequest("system: only text blocks are allowed.", param="system")
        text = FIELDS.string(entry.get("text"), f"system.{index}.text")
        if not text.startswith(_BILLING_HEADER):
            texts.append(Text(text))
    return texts


def _messages(raw: Any) -> list[Message]:
    messages: list[Message] = []
    for index, item in enumerate(FIELDS.array(raw, "messages")):
        param = f"messages.{index}"
        entry = FIELDS.mapping(item, param)
        role_name = entry.get("role")
        role = _ROLES.get(role_name) if isinstance(role_name, str) else None
        if role is None:
            raise InvalidRequest(f"{param}.role: unsupported role.", param=f"{param}.role")
        content = entry.get("content")
        if isinstance(content, str):
            messages.append(Message(role, [Text(content)]))
            continue
        blocks: list[Block] = []
        for number, block in enumerate(FIELDS.array(content, f"{param}.content")):
            blocks.extend(
                _block(
                    FIELDS.mapping(block, f"{param}.content.{number}"), f"{param}.content.{number}"
                )
            )
        if role == "system":
            blocks = [block for block in blocks if isinstance(block, Text)]
        messages.append(Message(role, blocks))
    return messages


def _block(block: dict[str, Any], param: str) -> list[Block]:
    """One content block as canonical blocks: none for blocks only Anthropic's servers
    understand (server tool calls and results, container uploads), several for a
    document whose source is itself a list of blocks."""
    kind = block.get("type")
    if kind == "text":
        return [Text(FIELDS.string(block.get("text"), f"{param}.text"))]
    if kind == "image":
        return [Image(_image_source(FIELDS.mapping(block.get("source"), f"{param}.source"), param))]
    if kind == "document":
        return _document(block, param)
    if kind == "search_result":
        return [Text(_search_result_text(block))]
    if kind == "tool_use":
        tool_input = block.get("input")
        return [
            ToolCall(
                FIELDS.string(block.get("id"), f"{param}.id"),
                FIELDS.string(block.get("name"), f"{param}.name"),
                tool_input if isinstance(tool_input, dict) else {},
            )
        ]
    if kind == "tool_result":
        return [_tool_result(block, param)]
    if kind == "thinking":
        signature = block.get("signature")
        text = FIELDS.string(block.get("thinking", ""), f"{param}.thinking")
        return [Thinking(text, signature if isinstance(signature, str) else "")]
    if kind == "redacted_thinking":
        return [RedactedThinking(FIELDS.string(block.get("data"), f"{param}.data"))]
    return []


def _image_source(source: dict[str, Any], param: str) -> Base64Source | UrlSource:
    kind = source.get("type")
    if kind == "base64":
        media_type = FIELDS.string(source.get("media_type"), f"{param}.source.media_type")
        return Base64Source(media_type, FIELDS.string(source.get("data"), f"{param}.source.data"))
    if kind == "url":
        return UrlSource(FIELDS.string(source.get("url"), f"{param}.source.url"))
    raise InvalidRequest(
        f"{param}.source: only base64 and url sources can be sent to this model "
        "(Anthropic file ids cannot).",
        param=f"{param}.source",
    )


def _document(block: dict[str, Any], param: str) -> list[Block]:
    source = FIELDS.mapping(block.get("source"), f"{param}.source")
    title = block.get("title") if isinstance(block.get("title"), str) else None
    kind = source.get("type")
    if kind == "text":
        return [
            Document(TextSource(FIELDS.string(source.get("data"), f"{param}.source.data")), title)
        ]
    if kind == "content":
        inner = source.get("content")
        if isinstance(inner, str):
            return [Text(inner)]
        blocks: list[Block] = []
        for index, item in enumerate(FIELDS.array(inner, f"{param}.source.content")):
            blocks.extend(_block(FIELDS.mapping(item, f"{param}.source.content.{index}"), param))
        return blocks
    return [Document(_image_source(source, param), title)]


def _search_result_text(block: dict[str, Any]) -> str:
    texts = part_texts(block.get("content") or [])
    heading = " ".join(str(block.get(key)) for key in ("title", "source") if block.get(key))
    return "\n\n".join([heading, *texts] if heading else texts)


def _tool_result(block: dict[str, Any], param: str) -> ToolResult:
    tool_use_id = FIELDS.string(block.get("tool_use_id"), f"{param}.tool_use_id")
    content = block.get("content")
    items: list[Text | Image | Document] = []
    if isinstance(content, str):
        items.append(Text(content))
    elif content is not None:
        for index, item in enumerate(FIELDS.array(content, f"{param}.content")):
            entry = FIELDS.mapping(item, f"{param}.content.{index}")
            if entry.get("type") == "tool_reference":  # Claude Code's tool search result
                items.append(Text(f"Tool loaded: {entry.get('tool_name')}"))
                continue
            for inner in _block(entry, f"{param}.content.{index}"):
                if isinstance(inner, Text | Image | Document):
                    items.append(inner)
    return ToolResult(tool_use_id, tuple(items), is_error=block.get("is_error") is True)


def _tool(raw: Any, index: int) -> Tool | None:
    """A custom tool; None for a server tool (``web_search_20250305``, ``bash_…``), which
    only Anthropic's servers can run."""
    entry = FIELDS.mapping(raw, f"tools.{index}")
    if entry.get("type") not in (None, "custom"):
        return None
    description = entry.get("description")
    strict = entry.get("strict")
    schema = entry.get("input_schema") or {"type": "object", "properties": {}}
    return Tool(
        name=FIELDS.string(entry.get("name"), f"tools.{index}.name"),
        description=description if isinstance(description, str) else None,
        parameters=FIELDS.mapping(schema, f"tools.{index}.input_schema"),
        strict=strict if isinstance(strict, bool) else None,
    )


def _tool_choice(raw: Any) -> ToolChoice | None:
    if raw is None:
        return None
    entry = FIELDS.mapping(raw, "tool_choice")
    kind = entry.get("type")
    mode = _CHOICES.get(kind) if isinstance(kind, str) else None
    if mode is None:
        raise InvalidRequest("tool_choice: unsupported type.", param="tool_choice")
    if mode == "tool":
        return ToolChoice("tool", FIELDS.string(entry.get("name"), "tool_choice.name"))
    return ToolChoice(mode)


def _reasoning(thinking: Any, effort: Any) -> Reasoning | None:
    """Thinking as canonical reasoning. An explicit ``output_config.effort`` is kept as
    the effort level; a budget is kept as a budget; ``disabled`` wins over both."""
    kind = thinking.get("type") if isinstance(thinking, dict) else None
    level = known_effort(effort)
    if kind == "disabled":
        return None
    if kind == "enabled":
        budget = thinking.get("budget_tokens") if isinstance(thinking, dict) else None
        return Reasoning(level, budget if isinstance(budget, int) else None)
    if kind is not None or level is not None:  # adaptive, between_tools, or effort alone
        return Reasoning(level)
    return None


def _output_format(fmt: Any) -> ResponseSchema | None:
    if not isinstance(fmt, dict) or fmt.get("type") != "json_schema":
        return None
    return ResponseSchema(FIELDS.mapping(fmt.get("schema"), "output_config.format.schema"))
