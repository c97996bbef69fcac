"""Legacy Text Completions (``POST /v1/complete``) served through the Messages API.

Anthropic's newer models answer only Messages, so a legacy call is converted on the way
in (the ``"\\n\\nHuman: …\\n\\nAssistant:"`` prompt becomes ``system`` plus alternating
messages, following Anthropic's migration guide) and the answer is converted back: a
``completion`` object, or, streamed, ``event: completion`` frames carrying text pieces,
the last one with the stop reason. Text Completions know only two stop reasons:
``max_tokens``, and ``stop_sequence`` for everything else (a natural end included).
Thinking and tool blocks have no legacy form and are left out.
"""

from __future__ import annotations

import re
from typing import Any

import orjson

from relaygate.core.errors import InvalidRequest
from relaygate.relay.canonical import Usage
from relaygate.relay.dialects.anthropic_messages.usage import UsageCounts

__all__ = [
    "CompletionStream",
    "completion_id",
    "completion_stop_reason",
    "complete_to_messages",
    "message_to_completion",
]

_TURN = re.compile(r"\n\n(Human|Assistant):")
_ROLES = {"Human": "user", "Assistant": "assistant"}
# legacy request fields that mean the same in a Messages request
_CARRIED = ("model", "stop_sequences", "temperature", "top_p", "top_k", "metadata", "stream")
_MAX_TOKENS_REASONS = frozenset({"max_tokens", "model_context_window_exceeded"})
_EVENT_END = re.compile(rb"\r?\n\r?\n")
_PING = b'event: ping\ndata: {"type":"ping"}\n\n'


def _messages(prompt: str) -> tuple[str, list[dict[str, Any]]]:
    """The system text and the turns of a legacy prompt; same-role turns are joined."""
    parts = _TURN.split(prompt)
    preamble = parts[0].strip()
    messages: list[dict[str, Any]] = []
    for label, text in zip(parts[1::2], parts[2::2], strict=True):
        role, content = _ROLES[label], text.strip()
        if not content:
            continue  # the empty "Assistant:" turn the model completes, or a blank one
        if messages and messages[-1]["role"] == role:
            messages[-1]["content"] += "\n\n" + content
        else:
            messages.append({"role": role, "content": content})
    if len(parts) == 1 and preamble:  # no turn markers: the whole prompt is the question
        return "", [{"role": "user", "content": preamble}]
    return preamble, messages


def complete_to_messages(body: dict[str, Any]) -> dict[str, Any]:
    """The Messages request equivalent to a legacy Complete request.

    Text before the first ``Human:`` turn becomes ``system``; a non-empty final
    ``Assistant:`` turn stays as the last message, which the model continues (the
    legacy "put words in Claude's mouth").
    """
    system, messages = _messages(str(body.get("prompt", "")))
    if not messages:
        raise InvalidRequest("prompt: must contain a non-empty Human turn", param="prompt")
    request: dict[str, Any] = {name: body[name] for name in _CARRIED if name in body}
    request["max_tokens"] = body.get("max_tokens_to_sample")
    request["messages"] = messages
    if system:
        request["system"] = system
    return request


def completion_stop_reason(stop_reason: Any) -> str:
    """A Messages ``stop_reason`` as one of the two legacy ones."""
    return "max_tokens" if stop_reason in _MAX_TOKENS_REASONS else "stop_sequence"


def completion_id(message_id: Any) -> str:
    """Legacy ids start ``compl_``; the message's own id keeps the two traceable."""
    text = str(message_id or "")
    return "compl_" + text.removeprefix("msg_") if text else "compl_unknown"


def message_to_completion(message: dict[str, Any], model: str) -> dict[str, Any]:
    """The legacy ``completion`` object for a Messages answer; ``model`` as the caller
    named it."""
    content = message.get("content")
    blocks = content if isinstance(content, list) else []
    text = "".join(
        str(block.get("text", ""))
        for block in blocks
        if isinstance(block, dict) and block.get("type") == "text"
    )
    return {
        "type": "completion",
        "id": completion_id(message.get("id")),
        "completion": text,
        "stop_reason": completion_stop_reason(message.get("stop_reason")),
        "model": model,
    }


def _payload_of(event: bytes) -> Any:
    data = [line[5:].strip() for line in event.splitlines() if line.startswith(b"data:")]
    if not data:
        return None
    try:
        return orjson.loads(b"\n".join(data))
    except orjson.JSONDecodeError:
        return None


class CompletionStream:
    """Turns a Messages SSE stream into legacy ``event: completion`` frames.

    Like the relay's scanner it is fed upstream bytes as they arrive and returns what is
    ready to send (only whole events are converted). ``usage`` follows the stream's
    ``message_start``/``message_delta`` counts, ``content_events`` counts the text
    pieces sent, ``finished`` turns True with ``message_stop``, and ``failed`` with an
    ``error`` event, which is passed on unchanged (both dialects share its envelope).
    """

    __slots__ = (
        "_id", "_meter", "_model", "_stop", "_tail", "content_events", "failed", "finished",
    )  # fmt: skip

    def __init__(self, model: str) -> None:
        self._model = model
        self._id = "compl_unknown"
        self._stop: Any = None
        self._tail = b""
        self._meter = UsageCounts()
        self.content_events = 0
        self.finished = False
        self.failed = False

    @property
    def usage(self) -> Usage | None:
        return self._meter.usage

    def feed(self, chunk: bytes) -> bytes:
        """Take upstream bytes; return the legacy frames of the events they complete."""
        data = self._tail + chunk if self._tail else chunk
        out, start = [], 0
        for end in _EVENT_END.finditer(data):
            out.append(self._convert(data[start : end.start()]))
            start = end.end()
        self._tail = data[start:]
        return b"".join(out)

    def flush(self) -> bytes:
        """Convert an unterminated last event, if the upstream ended without a blank line."""
        tail, self._tail = self._tail, b""
        return self._convert(tail) if tail.strip() else b""

    def _frame(self, text: str, stop_reason: str | None) -> bytes:
        payload = {
            "type": "completion",
            "id": self._id,
            "completion": text,
            "stop_reason": stop_reason,
            "model": self._model,
        }
        return b"event: completion\ndata: " + orjson.dumps(payload) + b"\n\n"

    def _text(self, delta: Any) -> bytes:
        """A text piece becomes a frame; thinking, signatures and tool input have no
        legacy form."""
        if not isinstance(delta, dict) or delta.get("type") != "text_delta":
            return b""
        text = delta.get("text")
        if not isinstance(text, str) or not text:
            return b""
        self.content_events += 1
        return self._frame(text, None)

    def _convert(self, event: bytes) -> bytes:
        payload = _payload_of(event)
        if not isinstance(payload, dict):
            return b""
        kind = payload.get("type")
        if kind == "content_block_delta":
            return self._text(payload.get("delta"))
        if kind == "message_start":
            message = payload.get("message")
            self._id = completion_id(message.get("id") if isinstance(message, dict) else None)
        elif kind == "message_delta":
            delta = payload.get("delta")
            if isinstance(delta, dict) and delta.get("stop_reason") is not None:
                self._stop = delta["stop_reason"]
        elif kind == "message_stop":
            self.finished = True
            return self._frame("", completion_stop_reason(self._stop))
        elif kind == "ping":
            return _PING
        elif kind == "error":
            self.failed = True
            return b"event: error\ndata: " + orjson.dumps(payload) + b"\n\n"
        self._meter.feed(payload)
        return b""
