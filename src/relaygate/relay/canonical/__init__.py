"""Dialect-neutral shapes shared by inbound dialects, providers and the meter.

Each wire dialect converts to and from these shapes once, so N dialects need N
converters, not N×N. ``Usage.prompt_tokens`` counts *all* input tokens, including cache
reads (``cached_tokens``) and cache writes (``cache_write_tokens``): OpenAI's convention,
so Anthropic's ``input_tokens`` (which excludes both) is summed up on the way in.
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["Usage"]


@dataclass(slots=True)
class Usage:
    """Token counts of one call, as the upstream reported them (or estimated, if it did not)."""

    prompt_tokens: int = 0
    completion_tokens: int = 0
    cached_tokens: int = 0
    cache_write_tokens: int = 0
    reasoning_tokens: int = 0
    estimated: bool = False
