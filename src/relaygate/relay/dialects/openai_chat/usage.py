"""Reading token usage out of OpenAI response bodies and stream chunks, and writing it.

``prompt_tokens`` counts every input token, cached or not (OpenAI's convention, and the
canonical one); cache reads go to ``prompt_tokens_details.cached_tokens`` and cache
writes (Anthropic's ``cache_creation_input_tokens``, which OpenAI has no field for) to
``prompt_tokens_details.cache_write_tokens``, where OpenRouter reports them.
"""

from __future__ import annotations

from typing import Any

from relaygate.relay.canonical import Usage

__all__ = ["read_usage", "usage_object"]


def _int(value: Any) -> int:
    return value if isinstance(value, int) and not isinstance(value, bool) else 0


def read_usage(payload: Any) -> Usage | None:
    """The ``usage`` object of a response or chunk, or None when it carries none."""
    if not isinstance(payload, dict):
        return None
    usage = payload.get("usage")
    if not isinstance(usage, dict):
        return None
    prompt_details = usage.get("prompt_tokens_details") or {}
    completion_details = usage.get("completion_tokens_details") or {}
    return Usage(
        prompt_tokens=_int(usage.get("prompt_tokens")),
        completion_tokens=_int(usage.get("completion_tokens")),
        cached_tokens=_int(prompt_details.get("cached_tokens"))
        if isinstance(prompt_details, dict)
        else 0,
        cache_write_tokens=_int(prompt_details.get("cache_write_tokens"))
        if isinstance(prompt_details, dict)
        else 0,
        reasoning_tokens=_int(completion_details.get("reasoning_tokens"))
        if isinstance(completion_details, dict)
        else 0,
    )


def usage_object(usage: Usage | None) -> dict[str, object]:
    """``usage`` as a chunk's (or completion's) ``usage`` object."""
    usage = usage or Usage()
    return {
        "prompt_tokens": usage.prompt_tokens,
        "completion_tokens": usage.completion_tokens,
        "total_tokens": usage.prompt_tokens + usage.completion_tokens,
        "prompt_tokens_details": {
            "cached_tokens": usage.cached_tokens,
            "cache_write_tokens": usage.cache_write_tokens,
        },
        "completion_tokens_details": {"reasoning_tokens": usage.reasoning_tokens},
    }
