"""Dialect-neutral shapes shared by inbound dialects, providers and the meter."""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["Usage"]


@dataclass(slots=True)
class Usage:
    """Token counts of one call, as the upstream reported them (or estimated, if it did not)."""

    prompt_tokens: int = 0
    completion_tokens: int = 0
    cached_tokens: int = 0
    reasoning_tokens: int = 0
    estimated: bool = False
