"""Dialect-neutral shapes shared by inbound dialects, providers and the meter.

Each wire dialect converts to and from these shapes once, so N dialects need N
converters, not N×N. :class:`Usage` is ``core.units.Usage``, the one record billing
prices too. ``Usage.prompt_tokens`` counts *all* input tokens, including cache
reads (``cached_tokens``) and cache writes (``cache_write_tokens``): OpenAI's convention,
so Anthropic's ``input_tokens`` (which excludes both) is summed up on the way in.

Why an answer stopped is said the same way by a complete answer (``messages.Response``)
and a stream (``stream.MessageDelta``), so :data:`StopReason` is defined here, once.
Anthropic's vocabulary is the finer one (OpenAI folds ``end_turn``, ``stop_sequence``
and ``pause_turn`` into ``"stop"``), so the canonical set follows it.
"""

from __future__ import annotations

from typing import Literal, get_args

from relaygate.core.units import Usage

__all__ = ["STOP_REASONS", "StopReason", "Usage", "known_stop_reason"]

StopReason = Literal[
    "end_turn",
    "max_tokens",
    "stop_sequence",
    "tool_use",
    "pause_turn",
    "refusal",
    "model_context_window_exceeded",
]
STOP_REASONS: tuple[StopReason, ...] = get_args(StopReason)


def known_stop_reason(value: object) -> StopReason | None:
    """``value`` when it is a canonical stop reason (as Anthropic's ``stop_reason`` is
    whenever it is known), else None; never raises, whatever JSON ``value`` came from."""
    return next((known for known in STOP_REASONS if known == value), None)
