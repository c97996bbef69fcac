"""The units one call is metered in and billed for: tokens and media units, one record.

The relay fills it from the upstream's answer (``relay.canonical`` re-exports it as the
dialects' usage shape) and billing prices it (``billing.pricing.official_cost``), so the
same record goes from the answer to the bill without being copied field by field. It lives
in core because both sides need it and the layers let neither import the other: the
translation code is pure (no billing imports) and billing sits below the relay.

``prompt_tokens`` counts *all* input tokens, cache reads (``cached_tokens``) and writes
(``cache_write_tokens``) included, and ``completion_tokens`` all output tokens,
``reasoning_tokens`` included: OpenAI's convention (``relay.canonical`` says how
Anthropic's counts are summed up on the way in).
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["Usage"]


@dataclass(slots=True)
class Usage:
    """Token counts of one call, as the upstream reported them (or estimated, if it did not).

    Mutable: a media call adds the audio's length it measured itself (relay/media/units.py).
    """

    prompt_tokens: int = 0
    completion_tokens: int = 0
    cached_tokens: int = 0
    cache_write_tokens: int = 0
    reasoning_tokens: int = 0
    estimated: bool = False  # counted locally: the upstream reported no usage
    # media units (the image and audio routes, docs/media.md): images returned, input
    # characters of a speech call, milliseconds of audio transcribed or translated (billed
    # per started second)
    images: int = 0
    characters: int = 0
    audio_ms: int = 0
