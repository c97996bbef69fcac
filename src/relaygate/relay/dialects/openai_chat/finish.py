"""OpenAI's ``finish_reason`` and the canonical stop reason, both ways.

A complete answer (``convert``) and a stream (``stream``) must end the same way for the
same upstream answer, so both map here. OpenAI's vocabulary is the coarser one: going
out, ``end_turn``, ``stop_sequence`` and ``pause_turn`` all become ``"stop"`` and a full
context window is ``"length"``; coming in, the legacy ``"function_call"`` is a tool call
and ``"content_filter"`` a refusal. The callers still correct a reason that contradicts
the answer (``"stop"`` after tool calls), each by what it can see.
"""

from __future__ import annotations

from relaygate.relay.canonical import StopReason

__all__ = ["finish_reason", "stop_reason"]

_FINISH: dict[StopReason, str] = {
    "end_turn": "stop",
    "stop_sequence": "stop",
    "pause_turn": "stop",
    "max_tokens": "length",
    "model_context_window_exceeded": "length",
    "tool_use": "tool_calls",
    "refusal": "content_filter",
}
_STOP: dict[str, StopReason] = {
    "stop": "end_turn",
    "length": "max_tokens",
    "tool_calls": "tool_use",
    "function_call": "tool_use",
    "content_filter": "refusal",
}


def finish_reason(stop: StopReason) -> str:
    return _FINISH.get(stop, "stop")


def stop_reason(finish: object) -> StopReason:
    """``end_turn`` for a missing or unknown ``finish_reason``."""
    return _STOP.get(finish, "end_turn") if isinstance(finish, str) else "end_turn"
