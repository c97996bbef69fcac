"""The Responses ``Response`` object and its output items, built in one place.

The complete answer (``convert.render_response``) and the stream's events
(``encoder.ResponsesStreamEncoder``) both build their items and their final Response
here, so a streamed call and a non-streamed one store the same object. A Response is
made of a *template* (the fields known before the upstream answers: id, model, time,
the echoed request parameters) and what the answer adds (status, output, usage).

Reasoning. Anthropic thinking comes with a signature that Anthropic wants back on the
next turn, and Codex is stateless: it re-sends the reasoning items it got, with their
``encrypted_content``. So a thinking block's signature (or a redacted block's data) is
carried in ``encrypted_content``, marked as the gateway's own, and a replayed item with
that mark becomes the thinking block again; OpenAI's own encrypted reasoning means
nothing to another vendor and is dropped (see ``input.py``).
"""

from __future__ import annotations

import secrets
from collections.abc import Callable, Sequence
from typing import Any, Literal

from relaygate.relay.canonical import Usage
from relaygate.relay.canonical.messages import StopReason
from relaygate.relay.dialects.openai_responses.tools import ToolNames

__all__ = [
    "TRUNCATED",
    "IdFactory",
    "Status",
    "error_code",
    "failed_response",
    "finished_response",
    "function_call_item",
    "message_item",
    "new_id",
    "output_text",
    "read_usage",
    "reasoning_item",
    "response_template",
    "seal_redacted",
    "seal_thinking",
    "unseal",
    "usage_object",
]

IdFactory = Callable[[str], str]  # a prefix ("msg", "fc", "rs", …) -> a fresh "<prefix>_…" id
Status = Literal["in_progress", "completed", "incomplete"]

# Stop reasons that cut the answer short: the item being written is left incomplete.
TRUNCATED: frozenset[str] = frozenset({"max_tokens", "model_context_window_exceeded"})
_SIGNED = "relaygate.thinking.v1:"
_REDACTED = "relaygate.redacted_thinking.v1:"
_INCOMPLETE: dict[str, str] = {
    "max_tokens": "max_output_tokens",
    "model_context_window_exceeded": "max_output_tokens",
    "refusal": "content_filter",
}
_RATE_LIMITED = frozenset({"rate_limit_error", "rate_limit_exceeded", "requests", "tokens"})


def new_id(prefix: str) -> str:
    """An id in OpenAI's shape: the prefix, ``_`` and 48 hex digits."""
    return f"{prefix}_{secrets.token_hex(24)}"


def seal_thinking(signature: str) -> str:
    return _SIGNED + signature


def seal_redacted(data: str) -> str:
    return _REDACTED + data


def unseal(encrypted: Any) -> tuple[Literal["thinking", "redacted"], str] | None:
    """What a replayed ``encrypted_content`` holds, when the gateway made it."""
    if not isinstance(encrypted, str):
        return None
    if encrypted.startswith(_SIGNED):
        return "thinking", encrypted[len(_SIGNED) :]
    if encrypted.startswith(_REDACTED):
        return "redacted", encrypted[len(_REDACTED) :]
    return None


# --- items ------------------------------------------------------------------------------


def output_text(text: str) -> dict[str, Any]:
    return {"type": "output_text", "text": text, "annotations": [], "logprobs": []}


def message_item(item_id: str, texts: Sequence[str], status: Status) -> dict[str, Any]:
    return {
        "id": item_id,
        "type": "message",
        "status": status,
        "role": "assistant",
        "content": [output_text(text) for text in texts],
    }


def reasoning_item(
    item_id: str, text: str | None, encrypted: str | None, status: Status
) -> dict[str, Any]:
    """The model's own reasoning text is ``reasoning_text`` content, not a ``summary``
    (which would claim OpenAI summarised it); ``text`` None for redacted thinking."""
    item: dict[str, Any] = {"id": item_id, "type": "reasoning", "summary": []}
    if text is not None:
        item["content"] = [{"type": "reasoning_text", "text": text}]
    if encrypted is not None:
        item["encrypted_content"] = encrypted
    item["status"] = status
    return item


def function_call_item(
    item_id: str, call_id: str, name: str, arguments: str, names: ToolNames, status: Status
) -> dict[str, Any]:
    namespace, plain = names.split(name)
    item: dict[str, Any] = {
        "id": item_id,
        "type": "function_call",
        "status": status,
        "arguments": arguments,
        "call_id": call_id,
    }
    if namespace is not None:
        item["namespace"] = namespace
    item["name"] = plain
    return item


# --- usage ------------------------------------------------------------------------------


def usage_object(usage: Usage) -> dict[str, Any]:
    """Responses usage; ``input_tokens`` includes cached tokens, as the canonical count."""
    return {
        "input_tokens": usage.prompt_tokens,
        "input_tokens_details": {
            "cached_tokens": usage.cached_tokens,
            "cache_write_tokens": usage.cache_write_tokens,
        },
        "output_tokens": usage.completion_tokens,
        "output_tokens_details": {"reasoning_tokens": usage.reasoning_tokens},
        "total_tokens": usage.prompt_tokens + usage.completion_tokens,
    }


def _count(source: Any, key: str) -> int:
    value = source.get(key) if isinstance(source, dict) else None
    return value if isinstance(value, int) and not isinstance(value, bool) and value > 0 else 0


def read_usage(response: Any) -> Usage | None:
    """The usage of a Responses ``Response`` object (a native upstream's), or None."""
    usage = response.get("usage") if isinstance(response, dict) else None
    if not isinstance(usage, dict):
        return None
    inputs, outputs = usage.get("input_tokens_details"), usage.get("output_tokens_details")
    return Usage(
        prompt_tokens=_count(usage, "input_tokens"),
        completion_tokens=_count(usage, "output_tokens"),
        cached_tokens=_count(inputs, "cached_tokens"),
        cache_write_tokens=_count(inputs, "cache_write_tokens"),
        reasoning_tokens=_count(outputs, "reasoning_tokens"),
    )


# --- the Response -----------------------------------------------------------------------


def _echo(request: dict[str, Any], key: str, default: Any = None) -> Any:
    value = request.get(key)
    return default if value is None else value


def _echo_tools(tools: Any) -> Any:
    """The request's tools as a Response echoes them: a function tool always says
    whether it is ``strict`` (the spec requires the field; null when the request did not
    say, as strictness was not enforced by anyone the gateway knows of)."""
    if not isinstance(tools, list):
        return [] if tools is None else tools
    return [
        {**tool, "strict": None}
        if isinstance(tool, dict) and tool.get("type") == "function" and "strict" not in tool
        else tool
        for tool in tools
    ]


def response_template(
    request: dict[str, Any],
    *,
    response_id: str,
    model: str,
    created_at: int,
    previous_response_id: str | None,
    conversation_id: str | None,
) -> dict[str, Any]:
    """The Response as it stands before the upstream answers (``status: in_progress``,
    no output), echoing the request's parameters as OpenAI does. Sampling parameters the
    client did not set are null: the upstream's defaults are not known here. ``usage``
    is absent until it is known (the spec's ``usage`` is an object, never null)."""
    template: dict[str, Any] = {
        "id": response_id,
        "object": "response",
        "created_at": created_at,
        "status": "in_progress",
        "completed_at": None,
        "error": None,
        "incomplete_details": None,
        "instructions": request.get("instructions"),
        "max_output_tokens": request.get("max_output_tokens"),
        "model": model,
        "output": [],
        "parallel_tool_calls": _echo(request, "parallel_tool_calls", True),
        "previous_response_id": previous_response_id,
        "conversation": {"id": conversation_id} if conversation_id else None,
        "reasoning": request.get("reasoning"),
        "store": _echo(request, "store", True),
        "temperature": request.get("temperature"),
        "text": _echo(request, "text", {"format": {"type": "text"}}),
        "tool_choice": _echo(request, "tool_choice", "auto"),
        "tools": _echo_tools(request.get("tools")),
        "top_p": request.get("top_p"),
        "truncation": _echo(request, "truncation", "disabled"),
        "metadata": _echo(request, "metadata", {}),
    }
    for key in ("user", "safety_identifier", "prompt_cache_key"):  # strings, never null
        if isinstance(request.get(key), str):
            template[key] = request[key]
    return template


def finished_response(
    template: dict[str, Any],
    output: list[dict[str, Any]],
    *,
    stop_reason: StopReason,
    usage: Usage | None,
    completed_at: int,
) -> dict[str, Any]:
    """``completed``, or ``incomplete`` when the answer was cut short (by the output
    limit or a content filter), with the reason OpenAI gives."""
    reason = _INCOMPLETE.get(stop_reason)
    response = {
        **template,
        "status": "completed" if reason is None else "incomplete",
        "completed_at": completed_at if reason is None else None,
        "incomplete_details": None if reason is None else {"reason": reason},
        "output": output,
    }
    if usage is not None:
        response["usage"] = usage_object(usage)
    return response


def error_code(upstream_type: str) -> str:
    """An upstream error type in the ``Response.error.code`` vocabulary."""
    return "rate_limit_exceeded" if upstream_type in _RATE_LIMITED else "server_error"


def failed_response(
    template: dict[str, Any],
    output: list[dict[str, Any]],
    *,
    code: str,
    message: str,
    usage: Usage | None,
) -> dict[str, Any]:
    response = {
        **template,
        "status": "failed",
        "error": {"code": code, "message": message},
        "output": output,
    }
    if usage is not None:
        response["usage"] = usage_object(usage)
    return response
