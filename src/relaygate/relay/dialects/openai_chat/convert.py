"""OpenAI Chat Completions bodies to and from the canonical request and response.

The public face of the dialect's non-streaming translation: requests are converted in
``request_to_canonical`` and ``request_from_canonical`` (the larger half), responses here.
A response is one ``chat.completion`` choice; an upstream answer that cannot be read
(no choices, tool arguments that are not JSON) is an upstream failure (502), not
something to pass on half-translated. Decisions are listed in docs/compatibility.md.
"""

from __future__ import annotations

import secrets
import time
from typing import Any

from relaygate.core.errors import UpstreamBadResponse
from relaygate.relay.canonical import Usage
from relaygate.relay.canonical.messages import (
    Block,
    Response,
    StopReason,
    Text,
    Thinking,
    ToolCall,
)
from relaygate.relay.dialects.openai_chat.finish import finish_reason, stop_reason
from relaygate.relay.dialects.openai_chat.request_from_canonical import (
    render_request,
    render_tool_call,
)
from relaygate.relay.dialects.openai_chat.request_to_canonical import (
    arguments_object,
    parse_request,
)
from relaygate.relay.dialects.openai_chat.usage import usage_object

__all__ = ["parse_request", "parse_response", "render_request", "render_response"]


def parse_response(body: dict[str, Any]) -> Response:
    """Read an upstream ``chat.completion``; its first choice is the answer."""
    choices = body.get("choices")
    if not isinstance(choices, list) or not choices or not isinstance(choices[0], dict):
        raise UpstreamBadResponse("The upstream answer has no choices.")
    choice = choices[0]
    raw_message = choice.get("message")
    message: dict[str, Any] = raw_message if isinstance(raw_message, dict) else {}
    finish = choice.get("finish_reason")
    content: list[Block] = []
    # non-standard, but what DeepSeek, vLLM and OpenRouter use for the reasoning text
    reasoning = message.get("reasoning_content") or message.get("reasoning")
    if isinstance(reasoning, str) and reasoning:
        content.append(Thinking(reasoning))
    text = message.get("content")
    if isinstance(text, list):  # a few servers answer with text parts
        text = "".join(p.get("text", "") for p in text if isinstance(p, dict))
    if isinstance(text, str) and text:
        content.append(Text(text))
    refusal = message.get("refusal")
    refused = isinstance(refusal, str) and bool(refusal)
    if isinstance(refusal, str) and refusal:
        content.append(Text(refusal))
    calls = _response_calls(message, truncated=finish == "length")
    content.extend(calls)
    model = body.get("model")
    return Response(
        id=str(body.get("id") or ""),
        model=model if isinstance(model, str) else "",
        content=content,
        stop_reason="refusal" if refused else _stop_reason(finish, has_calls=bool(calls)),
        usage=_parse_usage(body.get("usage")),
    )


def _stop_reason(finish: Any, *, has_calls: bool) -> StopReason:
    stop = stop_reason(finish)
    if has_calls and stop == "end_turn":
        return "tool_use"  # some servers say "stop" (or nothing) after tool calls
    if stop == "tool_use" and not has_calls:
        return "end_turn"
    return stop


def _response_calls(message: dict[str, Any], *, truncated: bool) -> list[ToolCall]:
    raw_calls = message.get("tool_calls")
    raw = list(raw_calls) if isinstance(raw_calls, list) else []
    legacy = message.get("function_call")
    if isinstance(legacy, dict):
        raw.append({"function": legacy})
    calls: list[ToolCall] = []
    for item in raw:
        function = item.get("function") if isinstance(item, dict) else None
        if not isinstance(function, dict) or not isinstance(function.get("name"), str):
            raise UpstreamBadResponse("The upstream returned a malformed tool call.")
        arguments = arguments_object(function.get("arguments"))
        if arguments is None:
            if truncated:  # cut off by max_tokens: the call is incomplete, not usable
                continue
            raise UpstreamBadResponse(
                f"The upstream returned tool call arguments for {function['name']!r} "
                "that are not a JSON object."
            )
        call_id = item.get("id")
        if not isinstance(call_id, str) or not call_id:
            call_id = "call_" + secrets.token_hex(12)
        calls.append(ToolCall(call_id, function["name"], arguments))
    return calls


def _count(source: Any, key: str) -> int:
    value = source.get(key) if isinstance(source, dict) else None
    return value if isinstance(value, int) and not isinstance(value, bool) and value > 0 else 0


def _parse_usage(usage: Any) -> Usage:
    prompt_details = usage.get("prompt_tokens_details") if isinstance(usage, dict) else None
    completion_details = usage.get("completion_tokens_details") if isinstance(usage, dict) else None
    return Usage(
        prompt_tokens=_count(usage, "prompt_tokens"),
        completion_tokens=_count(usage, "completion_tokens"),
        # DeepSeek reports cache hits as prompt_cache_hit_tokens
        cached_tokens=_count(prompt_details, "cached_tokens")
        or _count(usage, "prompt_cache_hit_tokens"),
        cache_write_tokens=_count(prompt_details, "cache_write_tokens"),
        reasoning_tokens=_count(completion_details, "reasoning_tokens"),
    )


# --- response: canonical -> OpenAI ------------------------------------------------------


def _completion_id(upstream_id: str) -> str:
    if upstream_id.startswith("chatcmpl-"):
        return upstream_id
    if upstream_id.startswith("msg_"):
        return "chatcmpl-" + upstream_id[len("msg_") :]
    return "chatcmpl-" + (upstream_id or secrets.token_hex(12))


def render_response(response: Response) -> dict[str, Any]:
    """A ``chat.completion`` with one choice; thinking text goes to ``reasoning_content``."""
    text = "".join(block.text for block in response.content if isinstance(block, Text))
    calls = [block for block in response.content if isinstance(block, ToolCall)]
    thinking = "".join(block.text for block in response.content if isinstance(block, Thinking))
    message: dict[str, Any] = {
        "role": "assistant",
        "content": None if calls and not text else text,
        "refusal": None,
    }
    if calls:
        message["tool_calls"] = [render_tool_call(call) for call in calls]
    if thinking:
        message["reasoning_content"] = thinking
    usage = response.usage
    choice = {
        "index": 0,
        "message": message,
        "logprobs": None,
        "finish_reason": finish_reason(response.stop_reason),
    }
    return {
        "id": _completion_id(response.id),
        "object": "chat.completion",
        "created": int(time.time()),
        "model": response.model,
        "choices": [choice],
        "usage": usage_object(usage),
    }
