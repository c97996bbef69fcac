"""A streamed chat completion put back together, for ``store: true`` streams.

OpenAI keeps a streamed completion created with ``store: true`` like any other, so the
gateway rebuilds the ``chat.completion`` object from the chunks it sends the client
(whatever the upstream's dialect was): the text and refusal of each choice, tool calls
with their arguments joined in order, the finish reason and the usage chunk.
"""

from __future__ import annotations

from typing import Any

from relaygate.relay.dialects.sse import event_object

__all__ = ["ChatAssembler"]


class ChatAssembler:
    __slots__ = ("_choices", "_head", "_tail", "_usage")

    def __init__(self) -> None:
        self._head: dict[str, Any] = {}
        self._choices: dict[int, dict[str, Any]] = {}
        self._usage: Any = None
        self._tail = b""

    def feed(self, data: bytes) -> None:
        """Take SSE bytes as sent to the client (split anywhere)."""
        data = self._tail + data
        *events, self._tail = data.replace(b"\r\n", b"\n").split(b"\n\n")
        for event in events:
            for line in event.split(b"\n"):
                if line.startswith(b"data:") and line[5:].strip() != b"[DONE]":
                    self._chunk(line[5:].strip())

    def _chunk(self, raw: bytes) -> None:
        chunk = event_object(raw)
        if chunk is None or "choices" not in chunk:
            return
        if not self._head:
            self._head = {k: chunk.get(k) for k in ("id", "created", "model")}
        if chunk.get("usage"):
            self._usage = chunk["usage"]
        for choice in chunk.get("choices") or []:
            if isinstance(choice, dict):
                self._choice(choice)

    def _choice(self, choice: dict[str, Any]) -> None:
        index = choice.get("index", 0)
        state = self._choices.setdefault(
            index, {"content": [], "refusal": [], "tools": {}, "finish": None}
        )
        delta = choice.get("delta") or {}
        for name in ("content", "refusal"):
            if isinstance(delta.get(name), str):
                state[name].append(delta[name])
        for call in delta.get("tool_calls") or []:
            slot = state["tools"].setdefault(
                call.get("index", 0), {"id": None, "name": "", "arguments": []}
            )
            slot["id"] = call.get("id") or slot["id"]
            function = call.get("function") or {}
            slot["name"] += function.get("name") or ""
            slot["arguments"].append(function.get("arguments") or "")
        if choice.get("finish_reason"):
            state["finish"] = choice["finish_reason"]

    def completion(self) -> dict[str, Any]:
        """The ``chat.completion`` the stream amounted to."""
        choices = []
        for index, state in sorted(self._choices.items()):
            message: dict[str, Any] = {
                "role": "assistant",
                "content": "".join(state["content"]) if state["content"] else None,
                "refusal": "".join(state["refusal"]) if state["refusal"] else None,
            }
            if state["tools"]:
                message["tool_calls"] = [
                    {
                        "id": slot["id"],
                        "type": "function",
                        "function": {"name": slot["name"], "arguments": "".join(slot["arguments"])},
                    }
                    for _, slot in sorted(state["tools"].items())
                ]
            choices.append(
                {
                    "index": index,
                    "message": message,
                    "finish_reason": state["finish"],
                    "logprobs": None,
                }
            )
        return {**self._head, "object": "chat.completion", "choices": choices, "usage": self._usage}
