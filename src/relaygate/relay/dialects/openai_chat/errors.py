"""OpenAI's mid-stream error frame. The HTTP error body is ``core/error_formats.py``'s
(the control plane answers in it too); this frame carries the same error object."""

from __future__ import annotations

import orjson

from relaygate.core.error_formats import openai_error
from relaygate.core.errors import RelaygateError

__all__ = ["stream_error_frame"]


def stream_error_frame(err: RelaygateError, request_id: str | None = None) -> bytes:
    """A mid-stream error: a data frame with an ``error`` key (the SDK raises on it)."""
    return b"data: " + orjson.dumps({"error": openai_error(err)}) + b"\n\n"
