"""Canonical request -> OpenAI Chat Completions request body.

The body goes to any OpenAI-compatible server (OpenAI, DeepSeek, vLLM, …): string
content when a message is text only, ``reasoning_effort`` limited to low/medium/high.
Which optional fields are sent, under which names, is the upstream model's
:class:`~relaygate.relay.dialects.openai_chat.capabilities.ModelCapabilities` (by
default: ``max_tokens``, everything the caller asked for). Anthropic-only content
(thinking, redacted thinking, cache breakpoints) is not sent: these servers reject or
ignore it. See docs/compatibility.md.
"""

from __future__ import annotations

from typing import Any

import orjson

from relaygate.core.errors import InvalidRequest
from relaygate.relay.canonical.messages import (
    Base64Source,
    Block,
    Document,
    Image,
    Message,
    Reasoning,
    Request,
    Text,
    TextSource,
    Thinking,
    Tool,
    ToolCall,
    ToolChoice,
    ToolResult,
    UrlSource,
)
from relaygate.relay.dialects.openai_chat.capabilities import UNKNOWN, ModelCapabilities

__all__ = ["compact_json", "render_request", "render_tool_call"]

# Only low/medium/high: DeepSeek, vLLM and most OpenAI-compatible servers know no others.
_EFFORT_OUT = {"minimal": "low", "low": "low", "medium": "medium", "high": "high"}
# A thinking budget (Anthropic's unit) maps to an effort by these thresholds (tokens).
LOW_BELOW, MEDIUM_BELOW = 4096, 16384
ATTACHMENT_NOTE = "[attachment of this tool result: see the next user message]"


def compact_json(value: Any) -> str:
    return orjson.dumps(value).decode()


def render_request(request: Request, capabilities: ModelCapabilities = UNKNOWN) -> dict[str, Any]:
    """The OpenAI chat body for ``request``, carrying only what the upstream model's
    ``capabilities`` accept."""
    caps = capabilities
    messages = _render_messages(request, caps)
    body: dict[str, Any] = {"model": request.model, "messages": messages}
    body["stream"] = request.stream
    if request.stream:
        body["stream_options"] = {"include_usage": True}
    optional = {
        caps.max_tokens_field: _ceiling(request.max_tokens, caps.max_output_tokens),
        "temperature": request.temperature if caps.sampling else None,
        "top_p": request.top_p if caps.sampling else None,
        "stop": _stop(request.stop, caps),
        "reasoning_effort": _effort(request.reasoning) if caps.reasoning_effort else None,
        "user": request.user,
    }
    body.update({key: value for key, value in optional.items() if value is not None})
    if request.tools:
        body["tools"] = [_render_tool(tool) for tool in request.tools]
        choice = request.tool_choice
        # a model refusing tool_choice still gets a forced one (leaving it out would
        # answer another question; its refusal reaches the caller), never a plain "auto"
        if choice is not None and (caps.tool_choice or choice.mode != "auto"):
            body["tool_choice"] = _render_tool_choice(choice)
        if request.parallel_tool_calls is not None and caps.parallel_tool_calls:
            body["parallel_tool_calls"] = request.parallel_tool_calls
    if request.response_schema is not None:
        schema: dict[str, Any] = {
            "name": request.response_schema.name,
            "schema": request.response_schema.schema,
        }
        if request.response_schema.strict is not None:
            schema["strict"] = request.response_schema.strict
        body["response_format"] = {"type": "json_schema", "json_schema": schema}
    elif request.json_object:
        body["response_format"] = {"type": "json_object"}
    return body


def _stop(stop: list[str], caps: ModelCapabilities) -> list[str] | None:
    """Stop sequences; refused (400) for a model that takes none: an answer running past
    them is not the one the caller asked for."""
    if stop and not caps.stop:
        raise InvalidRequest(
            "stop_sequences: the model this call goes to does not accept stop sequences.",
            param="stop_sequences",
        )
    return stop or None


def _ceiling(asked: int | None, most: int | None) -> int | None:
    """The caller's output limit, lowered to the model's (a limit above it is refused)."""
    if asked is None or most is None:
        return asked
    return min(asked, most)


def _effort(reasoning: Reasoning | None) -> str | None:
    if reasoning is None:
        return None
    if reasoning.effort is not None:
        return _EFFORT_OUT.get(reasoning.effort, "high")
    if reasoning.budget_tokens is None:
        return None  # "adaptive" without an effort: leave the upstream's default
    if reasoning.budget_tokens < LOW_BELOW:
        return "low"
    return "medium" if reasoning.budget_tokens < MEDIUM_BELOW else "high"


def _join(blocks: list[Text] | list[Block]) -> str:
    return "\n\n".join(block.text for block in blocks if isinstance(block, Text) and block.text)


def _render_messages(request: Request, caps: ModelCapabilities) -> list[dict[str, Any]]:
    """System text joined into one string per message (several servers' chat templates
    take no content parts in a system message), in the model's instructions role, then
    the conversation in order. A model that takes system text only first gets the
    caller's later system messages joined to the leading one."""
    leading = [text] if (text := _join(request.system)) else []
    messages: list[dict[str, Any]] = []
    for message in request.messages:
        if message.role == "system":
            if not (text := _join(message.content)):
                continue
            if caps.mid_conversation_system:
                messages.append({"role": caps.system_role, "content": text})
            else:
                leading.append(text)
        elif message.role == "assistant":
            rendered = _render_assistant(message, caps.reasoning_content)
            if rendered is not None:
                messages.append(rendered)
        else:
            messages.extend(_render_user(message))
    if leading:
        messages.insert(0, {"role": caps.system_role, "content": "\n\n".join(leading)})
    return messages


def _render_assistant(message: Message, reasoning_back: bool) -> dict[str, Any] | None:
    """Text and tool calls. Thinking is dropped (most OpenAI-compatible servers refuse
    it), except for models that want their reasoning back (``reasoning_back``:
    DeepSeek's thinking mode refuses a tool loop without ``reasoning_content``)."""
    texts = [block.text for block in message.content if isinstance(block, Text)]
    calls = [block for block in message.content if isinstance(block, ToolCall)]
    if not texts and not calls:
        return None
    rendered: dict[str, Any] = {"role": "assistant", "content": "".join(texts) if texts else None}
    if reasoning_back:
        thoughts = [block.text for block in message.content if isinstance(block, Thinking)]
        rendered["reasoning_content"] = "".join(thoughts)
    if calls:
        rendered["tool_calls"] = [render_tool_call(call) for call in calls]
    return rendered


def render_tool_call(call: ToolCall) -> dict[str, Any]:
    function = {"name": call.name, "arguments": compact_json(call.input)}
    return {"id": call.id, "type": "function", "function": function}


def _render_user(message: Message) -> list[dict[str, Any]]:
    """Tool results become ``role:"tool"`` messages, placed before the rest of the turn.
    Tool messages are text-only, so a result's images and documents move to the user
    message that follows, and the tool text says so."""
    rendered: list[dict[str, Any]] = []
    parts: list[dict[str, Any]] = []
    for block in message.content:
        if isinstance(block, ToolResult):
            attachments = [_render_part(i) for i in block.content if not isinstance(i, Text)]
            rendered.append(_render_tool_result(block, len(attachments)))
            parts.extend(attachments)
        elif isinstance(block, Text | Image | Document):
            parts.append(_render_part(block))
    if parts:
        if all(part["type"] == "text" for part in parts):
            content: Any = "\n\n".join(part["text"] for part in parts)
        else:
            content = parts
        rendered.append({"role": "user", "content": content})
    return rendered


def _render_tool_result(block: ToolResult, attachments: int) -> dict[str, Any]:
    texts = [item.text for item in block.content if isinstance(item, Text)]
    text = "\n\n".join(texts + [ATTACHMENT_NOTE] * attachments)
    if block.is_error:
        text = f"Error: {text}" if text else "Error"
    return {"role": "tool", "tool_call_id": block.tool_call_id, "content": text}


def _render_part(block: Text | Image | Document) -> dict[str, Any]:
    if isinstance(block, Text):
        return {"type": "text", "text": block.text}
    source = block.source
    if isinstance(source, UrlSource):
        if isinstance(block, Image):
            return {"type": "image_url", "image_url": {"url": source.url}}
        raise InvalidRequest(
            "Documents given by URL cannot be sent to this model; send them inline (base64).",
            param="messages",
        )
    if isinstance(source, TextSource):
        title = f"{block.title}\n\n" if isinstance(block, Document) and block.title else ""
        return {"type": "text", "text": title + source.text}
    if isinstance(block, Image):
        return {"type": "image_url", "image_url": {"url": _data_url(source)}}
    is_pdf = source.media_type == "application/pdf"
    name = block.title or ("document.pdf" if is_pdf else "document")
    return {"type": "file", "file": {"filename": name, "file_data": _data_url(source)}}


def _data_url(source: Base64Source) -> str:
    return f"data:{source.media_type};base64,{source.data}"


def _render_tool(tool: Tool) -> dict[str, Any]:
    function: dict[str, Any] = {"name": tool.name}
    if tool.description is not None:
        function["description"] = tool.description
    function["parameters"] = tool.parameters
    if tool.strict is not None:
        function["strict"] = tool.strict
    return {"type": "function", "function": function}


def _render_tool_choice(choice: ToolChoice) -> Any:
    if choice.mode == "tool":
        return {"type": "function", "function": {"name": choice.name}}
    return choice.mode
