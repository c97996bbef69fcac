"""A Responses request (with its stored history) to the canonical request.

Runs when ``POST /v1/responses`` is served by a Chat Completions or Anthropic channel.
The conversation is the gateway's own history (the items of the ``previous_response_id``
chain or the conversation, oldest first) followed by the request's ``input``; the
request's ``instructions`` come first as the system prompt and, as OpenAI documents,
are never carried over from earlier responses.

Items become canonical messages in order: messages by role (``developer`` is a system
message), ``function_call`` items join the assistant turn they belong to (consecutive
assistant-side items are one turn, so a turn's text, reasoning and calls stay together),
``function_call_output`` items join the user turn that follows. What has no canonical
form is handled by the rules in docs/compatibility.md:

* reasoning items are dropped: OpenAI's encrypted reasoning can only be read by OpenAI,
  and a summary is not the reasoning itself. The exception is reasoning the gateway made
  from Anthropic thinking (``output.unseal``), which becomes that thinking block again.
* traces of hosted tools (``web_search_call``, ``file_search_call``, …) are dropped with
  their tools (see ``tools.py``); calls of refused tool types are refused.
* ``item_reference`` items are resolved against the items before them, else refused.
"""

from __future__ import annotations

from typing import Any

from relaygate.core.errors import InvalidRequest
from relaygate.relay.canonical.messages import (
    Block,
    Message,
    Reasoning,
    RedactedThinking,
    Request,
    ResponseSchema,
    Role,
    Text,
    Thinking,
    ToolCall,
    ToolResult,
    known_effort,
)
from relaygate.relay.dialects.content import part_texts
from relaygate.relay.dialects.fields import OPENAI_FIELDS as FIELDS
from relaygate.relay.dialects.openai_chat.request_to_canonical import arguments_object
from relaygate.relay.dialects.openai_responses.content import text_blocks, tool_output, user_blocks
from relaygate.relay.dialects.openai_responses.output import unseal
from relaygate.relay.dialects.openai_responses.tools import flat_name, parse_tools

__all__ = ["DROPPED_ITEMS", "parse_request"]

# Items that only OpenAI's servers can act on: traces of hosted tools (an OpenAI
# ``compaction`` item is refused instead: dropping it would lose the whole history).
DROPPED_ITEMS = frozenset(
    {
        "web_search_call",
        "file_search_call",
        "code_interpreter_call",
        "image_generation_call",
        "mcp_list_tools",
        "mcp_call",
        "mcp_approval_request",
        "mcp_approval_response",
        "tool_search_call",
        "tool_search_output",
        "additional_tools",
        "program",
        "program_output",
        "compaction_summary",
    }
)


class _Conversation:
    """Canonical messages built item by item."""

    __slots__ = ("messages", "seen", "system")

    def __init__(self, instructions: list[Text]) -> None:
        self.system = instructions
        self.messages: list[Message] = []
        self.seen: dict[str, dict[str, Any]] = {}  # item id -> item, for item_reference

    def _turn(self, role: Role) -> Message:
        """The message the next block of ``role`` joins (a new one if the last differs)."""
        if not self.messages or self.messages[-1].role != role:
            self.messages.append(Message(role))
        return self.messages[-1]

    def add(self, item: Any, param: str) -> None:
        item = FIELDS.mapping(item, param)
        kind = item.get("type", "message" if "role" in item else None)
        if isinstance(item.get("id"), str) and kind != "item_reference":
            self.seen[item["id"]] = item
        if kind == "message":
            self._message(item, param)
        elif kind == "function_call":
            self._turn("assistant").content.append(_call(item, param))
        elif kind == "function_call_output":
            call_id = FIELDS.string(item.get("call_id"), f"{param}.call_id")
            content = tool_output(item.get("output"), f"{param}.output")
            self._turn("user").content.append(ToolResult(call_id, content))
        elif kind == "reasoning":
            if (block := _thinking(item)) is not None:
                self._turn("assistant").content.append(block)
        elif kind == "item_reference":
            self._reference(item, param)
        elif kind == "compaction":  # Relaygate's own were expanded before (relay/compaction.py)
            raise InvalidRequest(
                "This compaction item was made by an OpenAI Responses upstream and only it "
                "can read it; this model is served by another upstream. Continue with a "
                "model on that upstream, or start the conversation again.",
                param=param,
                code="foreign_compaction",
            )
        elif kind not in DROPPED_ITEMS:
            raise InvalidRequest(
                f"Input items of type {kind!r} cannot be used with this model.",
                param=f"{param}.type",
            )

    def _message(self, item: dict[str, Any], param: str) -> None:
        role, content = item.get("role"), item.get("content")
        where = f"{param}.content"
        if role == "user":
            self.messages.append(Message("user", user_blocks(content, where)))
        elif role == "assistant":
            self._turn("assistant").content.extend(text_blocks(content, where))
        elif role in ("system", "developer"):
            texts = text_blocks(content, where)
            if self.messages:
                self.messages.append(Message("system", list(texts)))
            else:  # the leading system prompt, after the request's instructions
                self.system.extend(texts)
        else:
            raise InvalidRequest(f"Unsupported role {role!r}.", param=f"{param}.role")

    def _reference(self, item: dict[str, Any], param: str) -> None:
        item_id = item.get("id")
        target = self.seen.get(item_id) if isinstance(item_id, str) else None
        if target is None:
            raise InvalidRequest(f"Item with id {item_id!r} not found.", param=param)
        self.add(target, param)


def _call(item: dict[str, Any], param: str) -> ToolCall:
    call_id = FIELDS.string(item.get("call_id"), f"{param}.call_id")
    name = FIELDS.string(item.get("name"), f"{param}.name")
    namespace = item.get("namespace")
    if isinstance(namespace, str) and namespace:
        name = flat_name(namespace, name)
    arguments = arguments_object(item.get("arguments"))
    if arguments is None:
        raise InvalidRequest(
            f"The arguments of function call {call_id!r} ({name}) are not a JSON object.",
            param=f"{param}.arguments",
        )
    return ToolCall(call_id, name, arguments)


def _thinking(item: dict[str, Any]) -> Block | None:
    sealed = unseal(item.get("encrypted_content"))
    if sealed is None:
        return None  # OpenAI's reasoning, or a summary: nothing another vendor can use
    kind, payload = sealed
    if kind == "redacted":
        return RedactedThinking(payload)
    parts = item.get("content")
    return Thinking("".join(part_texts(parts if isinstance(parts, list) else [])), payload)


def _conversation(body: dict[str, Any], history: list[dict[str, Any]]) -> _Conversation:
    instructions = body.get("instructions")
    if instructions is not None:
        FIELDS.string(instructions, "instructions")
    conversation = _Conversation([Text(instructions)] if instructions else [])
    for index, item in enumerate(history):
        conversation.add(item, f"history[{index}]")
    raw = body.get("input")
    if isinstance(raw, str):
        conversation.messages.append(Message("user", [Text(raw)]))
    elif isinstance(raw, list):
        for index, item in enumerate(raw):
            conversation.add(item, f"input[{index}]")
    elif raw is not None:
        raise InvalidRequest("'input' must be a string or an array of items.", param="input")
    return conversation


def parse_request(body: dict[str, Any], history: list[dict[str, Any]]) -> Request:
    """The canonical request for a Responses ``body`` continuing ``history``; raises
    InvalidRequest (400) for what cannot be translated faithfully."""
    if body.get("prompt") is not None:
        raise InvalidRequest(
            "Stored prompts cannot be used with this model; send the input itself.",
            param="prompt",
        )
    conversation = _conversation(body, history)
    tools, choice = parse_tools(body)
    parallel = body.get("parallel_tool_calls")
    user = body.get("user") or body.get("safety_identifier")
    return Request(
        model=FIELDS.string(body.get("model"), "model"),
        messages=conversation.messages,
        system=conversation.system,
        stream=body.get("stream") is True,
        max_tokens=FIELDS.positive(body, "max_output_tokens"),
        temperature=FIELDS.number(body, "temperature"),
        top_p=FIELDS.number(body, "top_p"),
        tools=tools,
        tool_choice=choice,
        parallel_tool_calls=parallel if isinstance(parallel, bool) and tools else None,
        reasoning=_reasoning(body.get("reasoning")),
        response_schema=_response_schema(body.get("text")),
        json_object=_format_type(body.get("text")) == "json_object",
        user=user if isinstance(user, str) and user else None,
    )


def _reasoning(reasoning: Any) -> Reasoning | None:
    """Only an explicit effort asks for reasoning: ``{"summary": "auto"}`` alone (what
    Codex sends) leaves the upstream's default, so a Claude channel does not start
    thinking, and paying for it, because a client asked for summaries."""
    if reasoning is None:
        return None
    effort = FIELDS.mapping(reasoning, "reasoning").get("effort")
    if effort is None or effort == "none":
        return None
    if (level := known_effort(effort)) is not None:
        return Reasoning(effort=level)
    raise InvalidRequest(f"Unsupported reasoning effort {effort!r}.", param="reasoning.effort")


def _format_type(text: Any) -> Any:
    fmt = text.get("format") if isinstance(text, dict) else None
    return fmt.get("type") if isinstance(fmt, dict) else None


def _response_schema(text: Any) -> ResponseSchema | None:
    """``json_schema`` maps; ``json_object`` is ``Request.json_object``, as for Chat
    Completions callers; ``text`` is the default."""
    fmt = text.get("format") if isinstance(text, dict) else None
    if not isinstance(fmt, dict) or fmt.get("type") != "json_schema":
        return None
    schema = fmt.get("schema") or {"type": "object"}
    if not isinstance(schema, dict):
        raise InvalidRequest("'text.format.schema' must be an object.", param="text.format")
    name, strict = fmt.get("name"), fmt.get("strict")
    return ResponseSchema(
        schema,
        name if isinstance(name, str) and name else "response",
        strict if isinstance(strict, bool) else None,
    )
