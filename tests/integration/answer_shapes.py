"""One upstream answer in both of its forms, for the stream-fidelity tests.

A native Chat Completions upstream says the same thing two ways: a ``chat.completion``
body and a ``chat.completion.chunk`` stream. :class:`ChatAnswer` writes both from one
description (reasoning, text, tool calls, finish reason, usage), as OpenAI, DeepSeek and
vLLM shape them: a role chunk first, content in pieces, each tool call's id and name
first and its arguments in fragments (parallel calls by ``index``), the finish reason in
its own chunk with an empty delta, then the usage chunk (``choices: []``) when the
request asked for it. The fake serves the bytes verbatim (``raw_body``), so the
gateway's translations of the streamed and of the whole answer can be compared.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

__all__ = ["ChatAnswer", "ToolCallAnswer"]


@dataclass(frozen=True)
class ToolCallAnswer:
    id: str
    name: str
    arguments: str  # JSON text, streamed in ``fragments`` pieces
    fragments: int = 3


@dataclass(frozen=True)
class ChatAnswer:
    text: str = ""
    reasoning: str = ""  # DeepSeek's ``reasoning_content``
    tool_calls: list[ToolCallAnswer] = field(default_factory=list)
    finish_reason: str = "stop"
    prompt_tokens: int = 25
    completion_tokens: int = 9
    cached_tokens: int = 0
    id: str = "chatcmpl-shape01"
    model: str = "upstream-model"
    interleave: bool = False  # parallel calls' fragments alternate between the calls

    def _usage(self) -> dict[str, Any]:
        return {
            "prompt_tokens": self.prompt_tokens,
            "completion_tokens": self.completion_tokens,
            "total_tokens": self.prompt_tokens + self.completion_tokens,
            "prompt_tokens_details": {"cached_tokens": self.cached_tokens},
            "completion_tokens_details": {"reasoning_tokens": 0},
        }

    def whole(self) -> bytes:
        message: dict[str, Any] = {"role": "assistant", "content": self.text or None}
        if self.reasoning:
            message["reasoning_content"] = self.reasoning
        if self.tool_calls:
            message["tool_calls"] = [
                {"id": c.id, "type": "function",
                 "function": {"name": c.name, "arguments": c.arguments}}
                for c in self.tool_calls
            ]  # fmt: skip
        choice = {"index": 0, "message": message, "logprobs": None,
                  "finish_reason": self.finish_reason}  # fmt: skip
        body = {"id": self.id, "object": "chat.completion", "created": 1767225600,
                "model": self.model, "choices": [choice], "usage": self._usage()}  # fmt: skip
        return json.dumps(body).encode()

    def _chunk(self, delta: dict[str, Any] | None, finish: str | None = None) -> bytes:
        chunk: dict[str, Any] = {"id": self.id, "object": "chat.completion.chunk",
                                 "created": 1767225600, "model": self.model}  # fmt: skip
        if delta is None:
            chunk["choices"], chunk["usage"] = [], self._usage()
        else:
            chunk["choices"] = [{"index": 0, "delta": delta, "logprobs": None,
                                 "finish_reason": finish}]  # fmt: skip
            chunk["usage"] = None
        return b"data: " + json.dumps(chunk).encode() + b"\n\n"

    def _call_chunks(self) -> list[bytes]:
        heads, tails = [], []
        for k, call in enumerate(self.tool_calls):
            head = {"index": k, "id": call.id, "type": "function",
                    "function": {"name": call.name, "arguments": ""}}  # fmt: skip
            heads.append(self._chunk({"tool_calls": [head]}))
            size = -(-len(call.arguments) // call.fragments)
            tails.append([
                self._chunk({"tool_calls": [{"index": k, "function": {"arguments": piece}}]})
                for piece in (call.arguments[i : i + size]
                              for i in range(0, len(call.arguments), size))
            ])  # fmt: skip
        if not self.interleave:
            return [part for head, tail in zip(heads, tails, strict=True) for part in (head, *tail)]
        out = list(heads)  # every call announced, then the fragments alternate
        for row in range(max(len(t) for t in tails)):
            out.extend(t[row] for t in tails if row < len(t))
        return out

    def stream(self) -> bytes:
        """The streamed answer (with the usage chunk: the gateway always asks for it)."""
        parts = [self._chunk({"role": "assistant", "content": ""})]
        for piece in _pieces(self.reasoning):
            parts.append(self._chunk({"reasoning_content": piece}))
        for piece in _pieces(self.text):
            parts.append(self._chunk({"content": piece}))
        parts.extend(self._call_chunks())
        parts.append(self._chunk({}, self.finish_reason))
        parts.append(self._chunk(None))
        return b"".join(parts) + b"data: [DONE]\n\n"


def _pieces(text: str) -> list[str]:
    words = text.split(" ") if text else []
    return [w if i == 0 else " " + w for i, w in enumerate(words)]
