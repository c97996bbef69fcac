"""Rendering of Relaygate errors in OpenAI's error format."""

from __future__ import annotations

import orjson

from relaygate.core.errors import RelaygateError

__all__ = ["error_body", "stream_error_frame"]


def _error(err: RelaygateError) -> dict[str, object]:
    return {"message": err.message, "type": err.type, "param": err.param, "code": err.code}


def error_body(err: RelaygateError) -> bytes:
    return orjson.dumps({"error": _error(err)})


def stream_error_frame(err: RelaygateError) -> bytes:
    """A mid-stream error: a data frame with an ``error`` key (the SDK raises on it)."""
    return b"data: " + orjson.dumps({"error": _error(err)}) + b"\n\n"
