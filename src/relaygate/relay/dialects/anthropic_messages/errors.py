"""Anthropic's mid-stream error frame. The HTTP error body is ``core/error_formats.py``'s
(with the status-to-type table every Anthropic error follows); the frame carries the same
envelope, so a client reads an error the same way before and after the first byte."""

from __future__ import annotations

import orjson

from relaygate.core.error_formats import anthropic_envelope
from relaygate.core.errors import RelaygateError

__all__ = ["stream_error_frame"]


def stream_error_frame(err: RelaygateError, request_id: str | None = None) -> bytes:
    """A mid-stream error: an ``event: error`` frame (the Anthropic SDK raises on it)."""
    return b"event: error\ndata: " + orjson.dumps(anthropic_envelope(err, request_id)) + b"\n\n"
