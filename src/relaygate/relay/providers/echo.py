"""The built-in echo upstream: answers from the last user message, with no network.

It makes a fresh install usable (``make run`` then a chat call, no upstream key) and gives
tests and benchmarks a deterministic model. Token counts are estimated the usual way
(about four characters a token) so bills look like real ones.
"""

from __future__ import annotations

import base64
import hashlib
import os
import struct
import time
from collections.abc import AsyncIterator
from typing import Any

import orjson

from relaygate.channels.spec import ChannelSpec
from relaygate.relay.media import MEDIA_ENDPOINTS
from relaygate.relay.providers.base import UpstreamCall, UpstreamReply

__all__ = ["EchoProvider", "echo_text"]

_EMBEDDING_DIMENSIONS = 16


def _tokens(text: str) -> int:
    return max(1, (len(text) + 3) // 4)


def _text_of(content: Any) -> str:
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return " ".join(
            part.get("text", "")
            for part in content
            if isinstance(part, dict) and part.get("type") == "text"
        )
    return ""


def echo_text(messages: list[Any]) -> str:
    """The reply to a conversation: the last user message, prefixed."""
    for message in reversed(messages):
        if isinstance(message, dict) and message.get("role") == "user":
            text = _text_of(message.get("content"))
            return f"Echo: {text}" if text else "Echo: (no text)"
    return "Echo: (no user message)"


def _prompt_tokens(messages: list[Any]) -> int:
    return 3 + sum(4 + _tokens(_text_of(m.get("content"))) for m in messages if isinstance(m, dict))


class _EchoReply:
    status = 200

    def __init__(self, body: bytes, frames: list[bytes] | None) -> None:
        self._body = body
        self._frames = frames
        self.content_type = "text/event-stream" if frames is not None else "application/json"

    async def read(self) -> bytes:
        return self._body

    async def chunks(self) -> AsyncIterator[bytes]:
        for frame in self._frames or [self._body]:
            yield frame

    def header(self, name: bytes) -> bytes | None:
        return None

    def close(self) -> None:
        return None


def _frame(obj: dict[str, Any]) -> bytes:
    return b"data: " + orjson.dumps(obj) + b"\n\n"


def _usage(prompt: int, completion: int) -> dict[str, int]:
    return {
        "prompt_tokens": prompt,
        "completion_tokens": completion,
        "total_tokens": prompt + completion,
    }


class EchoProvider:
    async def send(self, channel: ChannelSpec, call: UpstreamCall) -> UpstreamReply:
        payload = call.payload
        if call.endpoint == "embeddings":
            return _EchoReply(_embeddings(payload), None)
        if call.endpoint == "moderations":
            return _EchoReply(_moderations(payload), None)
        if call.endpoint in MEDIA_ENDPOINTS:  # images and audio, loaded on the first one
            from relaygate.relay.providers.echo_media import answer_media

            return answer_media(call)
        if call.endpoint == "completions":
            prompt = payload.get("prompt")
            text = prompt if isinstance(prompt, str) else str(prompt[0] if prompt else "")
            reply, prompt_tokens, kind = f"Echo: {text}", _tokens(text), "text_completion"
        else:
            messages = payload["messages"]
            reply, prompt_tokens, kind = (
                echo_text(messages),
                _prompt_tokens(messages),
                "chat.completion",
            )
        usage = _usage(prompt_tokens, _tokens(reply))
        base = {
            "id": ("cmpl-" if kind == "text_completion" else "chatcmpl-") + os.urandom(12).hex(),
            "created": int(time.time()),
            "model": payload["model"],
            "system_fingerprint": "relaygate-echo",
        }
        if call.stream:
            return _EchoReply(b"", _stream(base, kind, reply, usage, payload))
        if kind == "text_completion":
            choice: dict[str, Any] = {
                "index": 0,
                "text": reply,
                "logprobs": None,
                "finish_reason": "stop",
            }
        else:
            message = {"role": "assistant", "content": reply, "refusal": None}
            choice = {"index": 0, "message": message, "logprobs": None, "finish_reason": "stop"}
        body = {**base, "object": kind, "choices": [choice], "usage": usage}
        return _EchoReply(orjson.dumps(body), None)


def _stream(
    base: dict[str, Any], kind: str, reply: str, usage: dict[str, int], payload: dict[str, Any]
) -> list[bytes]:
    chunk = {**base, "object": kind + ".chunk" if kind == "chat.completion" else kind}
    words = reply.split(" ")
    pieces = [w if i == 0 else " " + w for i, w in enumerate(words)]
    frames: list[bytes] = []
    if kind == "chat.completion":
        first = {"index": 0, "delta": {"role": "assistant", "content": ""}, "finish_reason": None}
        frames.append(_frame({**chunk, "choices": [first]}))
        for piece in pieces:
            choice = {"index": 0, "delta": {"content": piece}, "finish_reason": None}
            frames.append(_frame({**chunk, "choices": [choice]}))
        frames.append(
            _frame({**chunk, "choices": [{"index": 0, "delta": {}, "finish_reason": "stop"}]})
        )
    else:
        for piece in pieces:
            choice = {"index": 0, "text": piece, "logprobs": None, "finish_reason": None}
            frames.append(_frame({**chunk, "choices": [choice]}))
        frames.append(
            _frame(
                {
                    **chunk,
                    "choices": [
                        {"index": 0, "text": "", "logprobs": None, "finish_reason": "stop"}
                    ],
                }
            )
        )
    options = payload.get("stream_options")
    if isinstance(options, dict) and options.get("include_usage"):
        frames.append(_frame({**chunk, "choices": [], "usage": usage}))
    frames.append(b"data: [DONE]\n\n")
    return frames


def _embeddings(payload: dict[str, Any]) -> bytes:
    raw = payload.get("input")
    inputs = [raw] if isinstance(raw, str) else list(raw or [])
    dimensions = payload.get("dimensions")
    size = (
        dimensions
        if isinstance(dimensions, int) and 0 < dimensions <= 4096
        else _EMBEDDING_DIMENSIONS
    )
    as_base64 = payload.get("encoding_format") == "base64"
    data = []
    for index, item in enumerate(inputs):
        seed = hashlib.sha256(str(item).encode()).digest()
        vector = [((seed[i % 32] + i) % 256) / 255.0 - 0.5 for i in range(size)]
        embedding: Any = (
            base64.b64encode(struct.pack(f"<{size}f", *vector)).decode() if as_base64 else vector
        )
        data.append({"object": "embedding", "index": index, "embedding": embedding})
    tokens = sum(_tokens(str(item)) for item in inputs)
    body = {
        "object": "list",
        "data": data,
        "model": payload["model"],
        "usage": {"prompt_tokens": tokens, "total_tokens": tokens},
    }
    return orjson.dumps(body)


def _moderations(payload: dict[str, Any]) -> bytes:
    """Every input passes: the echo model has no opinion (a well-formed, unflagged result)."""
    raw = payload.get("input")
    inputs = raw if isinstance(raw, list) else [raw]
    categories = ("harassment", "hate", "self-harm", "sexual", "violence")
    result = {
        "flagged": False,
        "categories": dict.fromkeys(categories, False),
        "category_scores": dict.fromkeys(categories, 0.0),
    }
    body = {"id": "modr-" + os.urandom(12).hex(), "model": payload["model"]}
    return orjson.dumps({**body, "results": [result for _ in inputs]})
