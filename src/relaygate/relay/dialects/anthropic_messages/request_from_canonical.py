"""Canonical request -> Anthropic Messages request body.

Anthropic validates far more than OpenAI does, and a translated request that it refuses
is a failed call the client cannot fix (it never wrote the Anthropic body). So this
renderer produces what Anthropic accepts rather than a literal copy: roles alternate,
system text is hoisted to ``system``, empty text blocks and whitespace-only stop
sequences are left out, tool ids are made to match Anthropic's pattern, and extended
thinking is only switched on where Anthropic allows it (never with a forced tool choice,
never in the middle of a tool loop whose assistant turn carries no thinking block, with
a budget below ``max_tokens``), a response schema or strict tool schema is rewritten
to the JSON Schema subset Anthropic compiles (:mod:`.schema`), and OpenAI's JSON mode is
asked for in the system prompt. Every such rule is listed in docs/compatibility.md.

Prompt-cache marks become ``cache_control`` on the block that carried them (tools,
system blocks, text, image, document, tool_use and tool_result blocks; a mark inside a
tool result goes on the tool_result block, whose content may be rendered as a plain
string). Anthropic refuses a request with more than :data:`MAX_BREAKPOINTS` marks, so
the earliest extras (in Anthropic's prefix order: tools, system, messages) are dropped:
the later ones cache the longer prefix, and a conversation replayed from stored history
keeps its newest marks.
"""

from __future__ import annotations

import base64
import binascii
import re
from typing import Any

import orjson

from relaygate.core.errors import InvalidRequest
from relaygate.relay.canonical.messages import (
    Base64Source,
    Block,
    CacheMark,
    Document,
    Effort,
    Image,
    Message,
    RedactedThinking,
    Request,
    Text,
    TextSource,
    Thinking,
    Tool,
    ToolCall,
    ToolResult,
    UrlSource,
)
from relaygate.relay.dialects.anthropic_messages.schema import output_schema

__all__ = [
    "EFFORT_BUDGETS",
    "JSON_OBJECT_INSTRUCTION",
    "MAX_BREAKPOINTS",
    "MIN_BUDGET",
    "SCHEMA_INSTRUCTION",
    "render_block",
    "render_request",
    "tool_id",
]

JSON_OBJECT_INSTRUCTION = (
    "Answer with one JSON object and nothing else: no prose before or after it, "
    "no Markdown code fence."
)
SCHEMA_INSTRUCTION = (
    "Answer with one JSON value that validates against this JSON Schema, and nothing "
    "else: no prose before or after it, no Markdown code fence.\n{schema}"
)

IMAGE_TYPES = frozenset({"image/jpeg", "image/png", "image/gif", "image/webp"})
# reasoning_effort -> thinking budget (tokens); Anthropic's minimum budget is 1024.
EFFORT_BUDGETS: dict[Effort, int] = {
    "minimal": 1024,
    "low": 2048,
    "medium": 8192,
    "high": 16384,
    "xhigh": 32768,
    "max": 65536,
}
MIN_BUDGET = 1024
MAX_BREAKPOINTS = 4  # Anthropic's limit of cache_control blocks per request
_CHOICE_TYPES = {"auto": "auto", "required": "any", "none": "none", "tool": "tool"}
_ID_UNSAFE = re.compile(r"[^a-zA-Z0-9_-]")


def tool_id(raw: str) -> str:
    """Anthropic wants tool ids matching ``^[a-zA-Z0-9_-]+$``; other servers' ids may not.
    The mapping is deterministic, so a call and its result still pair up."""
    return _ID_UNSAFE.sub("_", raw) or "toolu_"


def render_request(request: Request, *, default_max_tokens: int) -> dict[str, Any]:
    """The Messages body for ``request``; ``default_max_tokens`` when it set no limit."""
    body: dict[str, Any] = {"model": request.model, "messages": _render_messages(request)}
    hoisted = [block for m in request.messages if m.role == "system" for block in m.content]
    system = [
        render_block(b) for b in [*request.system, *hoisted] if isinstance(b, Text) and b.text
    ]
    if any(system):
        body["system"] = [block for block in system if block]
    body["stream"] = request.stream
    _render_generation(request, default_max_tokens, body)
    stops = [stop for stop in request.stop if stop.strip()]  # Anthropic refuses blank ones
    if stops:
        body["stop_sequences"] = stops
    if request.tools:
        body["tools"] = [_render_tool(tool) for tool in request.tools]
        choice = _render_tool_choice(request)
        if choice is not None:
            body["tool_choice"] = choice
    _render_output_format(request, body)
    if request.user:
        body["metadata"] = {"user_id": request.user}
    _limit_breakpoints(body)
    return body


def _cache_control(mark: CacheMark) -> dict[str, str]:
    return {"type": "ephemeral"} if mark.ttl is None else {"type": "ephemeral", "ttl": mark.ttl}


def _marked(block: dict[str, Any], mark: CacheMark | None) -> dict[str, Any]:
    if mark is not None:
        block["cache_control"] = _cache_control(mark)
    return block


def _limit_breakpoints(body: dict[str, Any]) -> None:
    """Keep the last :data:`MAX_BREAKPOINTS` marks, in the order Anthropic builds its
    cache prefix (tools, system, messages); a tool_result's nested content carries none
    (see :func:`_render_tool_result`)."""
    blocks = [*body.get("tools", ()), *body.get("system", ())]
    blocks += [block for turn in body["messages"] for block in turn["content"]]
    marked = [block for block in blocks if "cache_control" in block]
    for block in marked[: max(len(marked) - MAX_BREAKPOINTS, 0)]:
        del block["cache_control"]


def _render_output_format(request: Request, body: dict[str, Any]) -> None:
    """A response schema as ``output_config.format``, rewritten to what Anthropic accepts
    (:mod:`.schema`); one it cannot take (recursive), and OpenAI's JSON mode, for which
    Anthropic has nothing, become an instruction at the end of the system prompt."""
    instruction = None
    if request.response_schema is not None:
        rendered = output_schema(request.response_schema.schema)
        if rendered.recursive:
            schema = orjson.dumps(request.response_schema.schema).decode()
            instruction = SCHEMA_INSTRUCTION.format(schema=schema)
        else:
            body["output_config"] = {"format": {"type": "json_schema", "schema": rendered.schema}}
    elif request.json_object:
        instruction = JSON_OBJECT_INSTRUCTION
    if instruction is not None:
        body.setdefault("system", []).append({"type": "text", "text": instruction})


def _render_generation(request: Request, default_max_tokens: int, body: dict[str, Any]) -> None:
    """``max_tokens``, ``thinking`` and the sampling parameters, which constrain each
    other: the budget must stay below ``max_tokens``; with thinking on, Anthropic refuses
    a temperature other than 1, ``top_p`` below 0.95 and any ``top_k``; current models
    refuse temperature and top_p together, and the newest refuse any sampling parameter
    set to other than its default, so a default value (temperature 1, top_p 1) is not
    sent at all: leaving it out means the same."""
    budget = _thinking_budget(request)
    if request.max_tokens is None:
        max_tokens = default_max_tokens + (budget or 0)
    else:
        max_tokens = request.max_tokens
        if budget is not None:  # the client's cap holds: leave half of it to the answer
            budget = min(budget, max_tokens // 2)
            budget = budget if budget >= MIN_BUDGET else None
    body["max_tokens"] = max_tokens
    temperature, top_p, top_k = request.temperature, request.top_p, request.top_k
    if temperature is not None:
        temperature = min(max(float(temperature), 0.0), 1.0)
    if budget is not None:
        body["thinking"] = {"type": "enabled", "budget_tokens": budget}
        temperature = None
        top_p = top_p if top_p is not None and top_p >= 0.95 else None
        top_k = None
    if temperature is not None and temperature != 1:
        body["temperature"] = temperature
    elif top_p is not None and top_p < 1:
        body["top_p"] = top_p
    if top_k is not None:
        body["top_k"] = top_k


def _thinking_budget(request: Request) -> int | None:
    reasoning = request.reasoning
    if reasoning is None:
        return None
    if request.tool_choice is not None and request.tool_choice.mode in ("required", "tool"):
        return None  # "Thinking may not be enabled when tool_choice forces tool use"
    if _in_tool_loop(request.messages):
        return None
    if reasoning.effort is not None:
        return EFFORT_BUDGETS[reasoning.effort]
    return max(reasoning.budget_tokens or EFFORT_BUDGETS["medium"], MIN_BUDGET)


def _in_tool_loop(messages: list[Message]) -> bool:
    """True when the conversation ends inside an assistant turn (a prefill, or a user turn
    carrying tool results for it) whose message does not start with signed thinking:
    Anthropic refuses thinking then, and a translated conversation has no such block.
    The trailing user messages count as one turn, since the renderer merges them."""
    turns = [message for message in messages if message.role != "system"]
    index = len(turns) - 1
    tool_results = False
    while index >= 0 and turns[index].role == "user":
        tool_results |= any(isinstance(block, ToolResult) for block in turns[index].content)
        index -= 1
    if index < 0 or not (tool_results or index == len(turns) - 1):
        return False
    content = turns[index].content
    first = content[0] if content else None
    signed = isinstance(first, Thinking) and bool(first.signature)
    return not (signed or isinstance(first, RedactedThinking))


def _render_messages(request: Request) -> list[dict[str, Any]]:
    """Turns that alternate user/assistant (consecutive same-role messages merged), with a
    user turn's tool results first, as Anthropic requires."""
    turns: list[dict[str, Any]] = []
    for message in request.messages:
        if message.role == "system":
            continue
        blocks = [rendered for block in message.content if (rendered := render_block(block))]
        if not blocks:
            continue
        if turns and turns[-1]["role"] == message.role:
            turns[-1]["content"].extend(blocks)
        else:
            turns.append({"role": message.role, "content": blocks})
    for turn in turns:
        if turn["role"] == "user":
            turn["content"].sort(key=lambda block: block["type"] != "tool_result")
    if turns and turns[-1]["role"] == "assistant":
        _strip_trailing_whitespace(turns)
    if not turns:
        raise InvalidRequest("The request has no message content to send.", param="messages")
    return turns


def _strip_trailing_whitespace(turns: list[dict[str, Any]]) -> None:
    """Anthropic refuses a final assistant turn (a prefill) ending in whitespace."""
    content = turns[-1]["content"]
    last = content[-1]
    if last["type"] == "text":
        last["text"] = last["text"].rstrip()
        if not last["text"]:
            content.pop()
    if not content:
        turns.pop()


def render_block(block: Block) -> dict[str, Any] | None:
    """One canonical block as an Anthropic content block; None for what Anthropic would
    refuse and loses nothing by omission (blank text, thinking without a signature)."""
    if isinstance(block, Text):
        text = {"type": "text", "text": block.text}
        return _marked(text, block.cache) if block.text.strip() else None
    if isinstance(block, Image):
        return _marked({"type": "image", "source": _image_source(block.source)}, block.cache)
    if isinstance(block, Document):
        return _marked(_render_document(block), block.cache)
    if isinstance(block, ToolCall):
        call: dict[str, Any] = {"type": "tool_use", "id": tool_id(block.id), "name": block.name}
        call["input"] = block.input
        return _marked(call, block.cache)
    if isinstance(block, ToolResult):
        return _render_tool_result(block)
    if isinstance(block, Thinking):
        if not block.signature:
            return None
        return {"type": "thinking", "thinking": block.text, "signature": block.signature}
    return {"type": "redacted_thinking", "data": block.data}


def _image_source(source: Base64Source | UrlSource) -> dict[str, Any]:
    if isinstance(source, UrlSource):
        return {"type": "url", "url": source.url}
    if source.media_type not in IMAGE_TYPES:
        raise InvalidRequest(
            f"Image type {source.media_type!r} is not supported by this model "
            "(use JPEG, PNG, GIF or WebP).",
            param="messages",
        )
    return {"type": "base64", "media_type": source.media_type, "data": source.data}


def _render_document(block: Document) -> dict[str, Any]:
    source = block.source
    if isinstance(source, UrlSource):
        rendered: dict[str, Any] = {"type": "url", "url": source.url}
    elif isinstance(source, TextSource):
        rendered = {"type": "text", "media_type": "text/plain", "data": source.text}
    elif source.media_type == "application/pdf":
        rendered = {"type": "base64", "media_type": "application/pdf", "data": source.data}
    elif source.media_type.startswith("text/"):
        rendered = {"type": "text", "media_type": "text/plain", "data": _decode_text(source)}
    else:
        raise InvalidRequest(
            f"File type {source.media_type!r} is not supported by this model "
            "(use PDF or plain text).",
            param="messages",
        )
    document: dict[str, Any] = {"type": "document", "source": rendered}
    if block.title:
        document["title"] = block.title
    return document


def _decode_text(source: Base64Source) -> str:
    try:
        return base64.b64decode(source.data, validate=True).decode()
    except (binascii.Error, UnicodeDecodeError) as exc:
        raise InvalidRequest("A text file is not valid base64 UTF-8.", param="messages") from exc


def _render_tool_result(block: ToolResult) -> dict[str, Any]:
    """A tool_result; a mark on its content (an OpenAI tool message's text part) moves
    to the tool_result block, which caches the same prefix and survives the content
    being sent as a plain string."""
    rendered: dict[str, Any] = {"type": "tool_result", "tool_use_id": tool_id(block.tool_call_id)}
    content = [item for part in block.content if (item := render_block(part))]
    marks = [item.pop("cache_control") for item in content if "cache_control" in item]
    if len(content) == 1 and content[0]["type"] == "text":
        rendered["content"] = content[0]["text"]
    elif content:
        rendered["content"] = content
    if block.is_error:
        rendered["is_error"] = True
    if block.cache is not None:
        _marked(rendered, block.cache)
    elif marks:
        rendered["cache_control"] = marks[-1]
    return rendered


def _render_tool(tool: Tool) -> dict[str, Any]:
    rendered: dict[str, Any] = {"name": tool.name}
    if tool.description is not None:
        rendered["description"] = tool.description
    rendered["input_schema"] = tool.parameters
    if tool.strict:  # Anthropic compiles a strict tool's schema: the same subset as output
        strict = output_schema(tool.parameters)
        if strict.recursive:  # it cannot be strict; as a plain tool Claude still gets it
            return _marked(rendered, tool.cache)
        rendered["input_schema"] = strict.schema
    if tool.strict is not None:
        rendered["strict"] = tool.strict
    return _marked(rendered, tool.cache)


def _render_tool_choice(request: Request) -> dict[str, Any] | None:
    choice = request.tool_choice
    serial = request.parallel_tool_calls is False
    if choice is None and not serial:
        return None
    mode = choice.mode if choice is not None else "auto"
    rendered: dict[str, Any] = {"type": _CHOICE_TYPES[mode]}
    if choice is not None and choice.mode == "tool":
        rendered["name"] = choice.name
    if serial and mode != "none":
        rendered["disable_parallel_tool_use"] = True
    return rendered
