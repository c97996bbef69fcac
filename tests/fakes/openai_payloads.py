"""Response bodies of the fake OpenAI upstream, in the real OpenAI wire format.

Every body carries ``"system_fingerprint": "fp_fake"`` and a custom ``"x_fake"`` field so a
test can tell the upstream's own bytes from anything the gateway might re-serialise.
"""

from __future__ import annotations

import base64
import json
import struct
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

__all__ = [
    "Behaviour",
    "chat_chunk",
    "chat_completion",
    "dumps",
    "embedding_vector",
    "embeddings_body",
    "text_completion",
    "text_completion_chunk",
    "usage_body",
]

FINGERPRINT = "fp_fake"


@dataclass
class Behaviour:
    """What the fake does for one request. Defaults give a quick, successful answer.

    ``completion_tokens=None`` means "one token per content chunk". ``usage_chunk=None``
    follows the request (``stream_options.include_usage``); True/False force it.
    ``break_after`` aborts the TCP connection after that many content chunks;
    ``stall_after``/``stall_seconds`` go silent mid-stream; ``keepalive_comments`` sends
    ``: keep-alive`` SSE comment lines between chunks. ``reply`` computes the text from
    the request body (for concurrent calls that must each get their own answer).
    ``linger_after_done`` keeps the stream open that long after ``data: [DONE]``.
    ``fragment`` writes every SSE frame in pieces of that many bytes; ``crlf`` ends lines
    with CRLF instead of LF. ``gzip`` compresses a JSON answer when the request accepts it;
    ``connection_close`` answers with ``Connection: close``; ``truncate_body`` promises a
    JSON body in Content-Length, sends half and hangs up. ``echo_secrets`` makes an
    error quote the request's key and the fake's host:port; ``error_after`` ends a stream
    with an error event after that many content chunks. ``spaced_json`` writes answers
    with spaces after ``:`` and ``,`` (as Python's ``json.dumps`` does by default).
    ``raw_body`` answers 200 with exactly those bytes instead of an answer
    (``raw_content_type``, else the type a real answer would have: an event stream when
    the request streams, else JSON), to script a broken upstream; ``first_event_delay``
    waits that long after the response headers before the first byte of the body (a
    stream, or ``raw_body``).
    """

    text: str = "Hello from the fake upstream."
    chunks: list[str] | None = None
    prompt_tokens: int = 11
    completion_tokens: int | None = None
    cached_tokens: int = 0
    reasoning_tokens: int = 0
    latency: float = 0.0
    chunk_delay: float = 0.0
    status: int = 200
    error_body: dict[str, Any] | None = None
    headers: dict[str, str] = field(default_factory=dict)
    break_after: int | None = None
    abort: bool = False
    stall_after: int | None = None
    stall_seconds: float = 0.0
    usage_chunk: bool | None = None
    keepalive_comments: bool = False
    tool_calls: list[dict[str, Any]] | None = None
    n: int | None = None
    finish_reason: str | None = None
    embedding: list[float] = field(default_factory=lambda: [0.5, -0.25, 1.5, 0.125])
    reply: Callable[[dict[str, Any]], str] | None = None
    linger_after_done: float = 0.0
    fragment: int | None = None
    crlf: bool = False
    gzip: bool = False
    connection_close: bool = False
    truncate_body: bool = False
    # an error's message (status != 200, or ``error_after``) quotes the key the request
    # carried and the fake's own host:port, as careless upstreams do
    echo_secrets: bool = False
    error_after: int | None = None  # a ``data: {"error": …}`` event after that many chunks
    spaced_json: bool = False  # answers written with spaces after ``:`` and ``,``
    raw_body: bytes | None = None
    raw_content_type: str | None = None
    first_event_delay: float = 0.0

    def pieces(self) -> list[str]:
        if self.chunks is not None:
            return list(self.chunks)
        words = self.text.split(" ")
        return [w if i == 0 else " " + w for i, w in enumerate(words)]

    def completion_count(self) -> int:
        if self.completion_tokens is not None:
            return self.completion_tokens
        return max(1, len(self.pieces()))


def dumps(obj: Any) -> bytes:
    return json.dumps(obj, separators=(",", ":"), ensure_ascii=False).encode()


def usage_body(b: Behaviour) -> dict[str, Any]:
    completion = b.completion_count()
    return {
        "prompt_tokens": b.prompt_tokens,
        "completion_tokens": completion,
        "total_tokens": b.prompt_tokens + completion,
        "prompt_tokens_details": {"cached_tokens": b.cached_tokens, "audio_tokens": 0},
        "completion_tokens_details": {
            "reasoning_tokens": b.reasoning_tokens,
            "audio_tokens": 0,
            "accepted_prediction_tokens": 0,
            "rejected_prediction_tokens": 0,
        },
    }


def _finish(b: Behaviour) -> str:
    if b.finish_reason:
        return b.finish_reason
    return "tool_calls" if b.tool_calls else "stop"


def chat_completion(b: Behaviour, rid: str, model: str, n: int) -> dict[str, Any]:
    choices = []
    for i in range(n):
        message: dict[str, Any] = {"role": "assistant", "content": b.text, "refusal": None}
        if b.tool_calls:
            message["content"] = None
            message["tool_calls"] = b.tool_calls
        choices.append(
            {"index": i, "message": message, "logprobs": None, "finish_reason": _finish(b)}
        )
    return {
        "id": rid,
        "object": "chat.completion",
        "created": int(time.time()),
        "model": model,
        "choices": choices,
        "usage": usage_body(b),
        "service_tier": "default",
        "system_fingerprint": FINGERPRINT,
        "x_fake": {"request_id": rid},
    }


def chat_chunk(
    rid: str,
    model: str,
    choices: list[dict[str, Any]],
    *,
    usage: dict[str, Any] | None = None,
    with_usage_field: bool = False,
) -> dict[str, Any]:
    chunk: dict[str, Any] = {
        "id": rid,
        "object": "chat.completion.chunk",
        "created": int(time.time()),
        "model": model,
        "service_tier": "default",
        "system_fingerprint": FINGERPRINT,
        "choices": choices,
        "x_fake": True,
    }
    if with_usage_field or usage is not None:
        chunk["usage"] = usage
    return chunk


def text_completion(b: Behaviour, rid: str, model: str, n: int) -> dict[str, Any]:
    return {
        "id": rid,
        "object": "text_completion",
        "created": int(time.time()),
        "model": model,
        "system_fingerprint": FINGERPRINT,
        "choices": [
            {"text": b.text, "index": i, "logprobs": None, "finish_reason": _finish(b)}
            for i in range(n)
        ],
        "usage": usage_body(b),
        "x_fake": {"request_id": rid},
    }


def text_completion_chunk(
    rid: str, model: str, choices: list[dict[str, Any]], usage: dict[str, Any] | None = None
) -> dict[str, Any]:
    chunk: dict[str, Any] = {
        "id": rid,
        "object": "text_completion",
        "created": int(time.time()),
        "model": model,
        "system_fingerprint": FINGERPRINT,
        "choices": choices,
        "x_fake": True,
    }
    if usage is not None:
        chunk["usage"] = usage
    return chunk


def embedding_vector(b: Behaviour, index: int) -> list[float]:
    """Values exactly representable in float32, shifted by the input's index."""
    return [v + index for v in b.embedding]


def embeddings_body(b: Behaviour, model: str, inputs: list[Any], fmt: str) -> dict[str, Any]:
    data = []
    for i, _ in enumerate(inputs):
        vector = embedding_vector(b, i)
        value: Any = vector
        if fmt == "base64":
            value = base64.b64encode(struct.pack(f"<{len(vector)}f", *vector)).decode()
        data.append({"object": "embedding", "index": i, "embedding": value})
    return {
        "object": "list",
        "data": data,
        "model": model,
        "usage": {"prompt_tokens": b.prompt_tokens, "total_tokens": b.prompt_tokens},
        "x_fake": True,
    }


def moderation_body(b: Behaviour, body: dict[str, Any]) -> dict[str, Any]:
    """One result per input; an input containing ``b.text`` is flagged as harassment."""
    raw = body.get("input")
    inputs = raw if isinstance(raw, list) else [raw]
    results = []
    for item in inputs:
        flagged = isinstance(item, str) and b.text in item
        results.append(
            {
                "flagged": flagged,
                "categories": {"harassment": flagged, "violence": False},
                "category_scores": {"harassment": 0.9 if flagged else 0.01, "violence": 0.0},
            }
        )
    return {"id": "modr-fake", "model": body.get("model"), "results": results}
