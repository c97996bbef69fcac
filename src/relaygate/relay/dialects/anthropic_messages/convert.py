"""Anthropic Messages bodies to and from the canonical request and response.

The public face of the dialect's non-streaming translation: requests are converted in
``request_to_canonical`` and ``request_from_canonical`` (the larger half), ``message``
responses here. Claude Code sends thinking blocks back on the next turn, so a thinking
block made from an OpenAI-compatible upstream's reasoning text carries an empty
signature, which the request renderer recognises and leaves out. An upstream message
that cannot be read is an upstream failure (502). Decisions: docs/compatibility.md.
"""

from __future__ import annotations

import secrets
from typing import Any

from relaygate.core.errors import UpstreamBadResponse
from relaygate.relay.canonical import Usage, known_stop_reason
from relaygate.relay.canonical.messages import (
    Block,
    RedactedThinking,
    Response,
    Text,
    Thinking,
    ToolCall,
)
from relaygate.relay.dialects.anthropic_messages.request_from_canonical import (
    render_request,
    tool_id,
)
from relaygate.relay.dialects.anthropic_messages.request_to_canonical import parse_request
from relaygate.relay.dialects.anthropic_messages.usage import read_usage

__all__ = ["parse_request", "parse_response", "render_request", "render_response"]


def parse_response(body: dict[str, Any]) -> Response:
    """Read an upstream ``message``. Server-tool blocks (web search calls and results)
    were acted on by Anthropic already and have no canonical form; they are skipped."""
    content = body.get("content")
    if not isinstance(content, list):
        raise UpstreamBadResponse("The upstream message has no content.")
    blocks = [parsed for block in content if (parsed := _response_block(block)) is not None]
    stop_sequence = body.get("stop_sequence")
    model = body.get("model")
    return Response(
        id=str(body.get("id") or ""),
        model=model if isinstance(model, str) else "",
        content=blocks,
        stop_reason=known_stop_reason(body.get("stop_reason")) or "end_turn",
        usage=read_usage(body) or Usage(),
        stop_sequence=stop_sequence if isinstance(stop_sequence, str) else None,
    )


def _response_block(block: Any) -> Block | None:
    if not isinstance(block, dict):
        raise UpstreamBadResponse("The upstream message has a malformed content block.")
    kind = block.get("type")
    if kind == "text" and isinstance(block.get("text"), str):
        return Text(block["text"])
    if kind == "thinking":
        text, signature = block.get("thinking"), block.get("signature")
        return Thinking(
            text if isinstance(text, str) else "",
            signature if isinstance(signature, str) else "",
        )
    if kind == "redacted_thinking" and isinstance(block.get("data"), str):
        return RedactedThinking(block["data"])
    if kind == "tool_use":
        call_id, name, tool_input = block.get("id"), block.get("name"), block.get("input")
        if not isinstance(call_id, str) or not isinstance(name, str):
            raise UpstreamBadResponse("The upstream message has a malformed tool_use block.")
        return ToolCall(call_id, name, tool_input if isinstance(tool_input, dict) else {})
    return None


def _message_id(upstream_id: str) -> str:
    """``msg_…`` from the upstream's id, so the two can be matched in logs."""
    if upstream_id.startswith("msg_"):
        return upstream_id
    if upstream_id.startswith("chatcmpl-"):
        upstream_id = upstream_id[len("chatcmpl-") :]
    return "msg_" + (upstream_id or secrets.token_hex(12))


def render_response(response: Response) -> dict[str, Any]:
    """A ``message`` with content in the canonical order (thinking, text, tool_use)."""
    content: list[dict[str, Any]] = []
    for block in response.content:
        if isinstance(block, Text) and block.text:
            content.append({"type": "text", "text": block.text})
        elif isinstance(block, Thinking):
            content.append(
                {"type": "thinking", "thinking": block.text, "signature": block.signature}
            )
        elif isinstance(block, RedactedThinking):
            content.append({"type": "redacted_thinking", "data": block.data})
        elif isinstance(block, ToolCall):
            call_id = tool_id(block.id) if block.id else "toolu_" + secrets.token_hex(12)
            content.append(
                {"type": "tool_use", "id": call_id, "name": block.name, "input": block.input}
            )
    return {
        "id": _message_id(response.id),
        "type": "message",
        "role": "assistant",
        "model": response.model,
        "content": content,
        "stop_reason": response.stop_reason,  # the canonical vocabulary is Anthropic's
        "stop_sequence": response.stop_sequence,
        "usage": _render_usage(response.usage),
    }


def _render_usage(usage: Usage) -> dict[str, Any]:
    """Anthropic's ``input_tokens`` excludes cache reads and writes; the canonical count
    includes them (OpenAI's convention), so they are taken out here."""
    fresh = usage.prompt_tokens - usage.cached_tokens - usage.cache_write_tokens
    rendered: dict[str, Any] = {
        "input_tokens": max(fresh, 0),
        "output_tokens": usage.completion_tokens,
        "cache_creation_input_tokens": usage.cache_write_tokens,
        "cache_read_input_tokens": usage.cached_tokens,
    }
    if usage.reasoning_tokens:
        rendered["output_tokens_details"] = {"thinking_tokens": usage.reasoning_tokens}
    return rendered
