"""How many output tokens an OpenAI call may be billed for: what its hold must cover.

The upstream bills every token it generates, not only those the caller reads: ``n``
choices each up to the output limit, ``best_of`` completions of the legacy Completions
route (generated server-side, all billed, ``n`` of them returned), and the rejected part
of a Predicted Outputs ``prediction`` (billed at the completion rate). Input is billed
once whatever ``n`` is. The limit is ``max_completion_tokens`` or ``max_tokens``; a call
without one is held for ``default`` tokens per choice.
"""

from __future__ import annotations

from typing import Any

from relaygate.core.tokens import estimate_tokens
from relaygate.relay.dialects.openai_chat.request import COMPLETIONS, EMBEDDINGS, MODERATIONS

__all__ = ["choices_generated", "choices_returned", "max_output"]

_LIMIT_FIELDS = ("max_completion_tokens", "max_tokens")


def _count(value: Any) -> int:
    """A positive integer field, else 0 (absent or malformed: validation is elsewhere)."""
    if isinstance(value, bool):
        return 0
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    return value if isinstance(value, int) and value > 0 else 0


def choices_generated(endpoint: str, payload: dict[str, Any]) -> int:
    """The completions the upstream generates (and bills): ``n``, or on the legacy
    Completions route the larger of ``n`` and ``best_of``; at least 1."""
    generated = _count(payload.get("n")) or 1
    if endpoint == COMPLETIONS:
        generated = max(generated, _count(payload.get("best_of")))
    return generated


def choices_returned(payload: dict[str, Any]) -> int:
    """The choices the caller gets (``n``; ``best_of`` ones are only generated)."""
    return _count(payload.get("n")) or 1


def _prediction_tokens(payload: dict[str, Any]) -> int:
    """The prediction's size: at most that many tokens are rejected and billed as output."""
    prediction = payload.get("prediction")
    content = prediction.get("content") if isinstance(prediction, dict) else None
    if isinstance(content, list):
        parts = (p.get("text") for p in content if isinstance(p, dict))
        content = "".join(p for p in parts if isinstance(p, str))
    return estimate_tokens(content) if isinstance(content, str) else 0


def max_output(endpoint: str, payload: Any, default: int) -> int:
    """The most output tokens the call can be billed for (0: the endpoint generates none;
    ``default`` per choice when the caller set no limit and ``default`` is not 0)."""
    if endpoint in (EMBEDDINGS, MODERATIONS) or not isinstance(payload, dict):
        return 0
    limit = next((n for f in _LIMIT_FIELDS if (n := _count(payload.get(f)))), 0) or default
    if not limit:
        return 0
    return limit * choices_generated(endpoint, payload) + _prediction_tokens(payload)
