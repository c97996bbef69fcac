"""The capabilities of a channel's model: what Relaygate knows of its family, corrected
by the channel's options.

Chosen per call, after the channel and its upstream model name are known, and handed
to the translation (``crossing.upstream_payload``), which renders only what the model
accepts. docs/channels.md, "Model capabilities".
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from relaygate.channels.spec import ChannelSpec, ModelOverride
from relaygate.relay.dialects.openai_chat.capabilities import (
    ModelCapabilities,
    builtin_capabilities,
    matches,
)

__all__ = ["model_capabilities"]

_FIELDS = (
    "reasoning_effort",
    "sampling",
    "stop",
    "max_tokens_field",
    "max_output_tokens",
    "system_role",
    "mid_conversation_system",
    "reasoning_content",
    "parallel_tool_calls",
    "tool_choice",
)


def model_capabilities(channel: ChannelSpec, upstream_model: str, model: str) -> ModelCapabilities:
    """What ``upstream_model`` (public name ``model``) accepts on ``channel``: the known
    family's capabilities, the channel's ``max_output_tokens``, then the most specific of
    the channel's ``model_capabilities`` patterns that names either model name."""
    names = tuple(name for name in (upstream_model, model) if name)
    capabilities = builtin_capabilities(*names)
    if channel.max_output_tokens is not None:
        capabilities = replace(capabilities, max_output_tokens=channel.max_output_tokens)
    chosen = _most_specific(
        [o for o in channel.model_overrides if any(matches(o.pattern, n) for n in names)]
    )
    return capabilities if chosen is None else _applied(capabilities, chosen)


def _most_specific(overrides: list[ModelOverride]) -> ModelOverride | None:
    """An exact name before any glob, then the longest pattern (so the choice does not
    depend on the order the options were written in)."""
    if not overrides:
        return None
    return min(overrides, key=lambda o: (any(c in o.pattern for c in "*?["), -len(o.pattern)))


def _applied(capabilities: ModelCapabilities, override: ModelOverride) -> ModelCapabilities:
    changes: dict[str, Any] = {}
    if override.reasoning is not None:
        changes.update(reasoning_effort=override.reasoning, sampling=not override.reasoning)
    for name in _FIELDS:
        value = getattr(override, name)
        if value is not None:
            changes[name] = value
    return replace(capabilities, **changes)
