"""OpenAI Chat Completions streams, both ways: ``chat.completion.chunk`` SSE to
canonical events and back.

OpenAI has no content blocks: a chunk's delta may carry text, reasoning (the
``reasoning_content`` of DeepSeek and vLLM, the ``reasoning`` of OpenRouter) and tool
call fragments side by side. The decoder builds blocks from them: a change of kind (or
of tool call) closes the open block and starts the next, so the canonical stream is
well formed whatever order the upstream used. Only choice 0 is relayed; the other
dialect has no ``n``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import orjson

from relaygate.relay.canonical import Usage
from relaygate.relay.canonical.stream import (
    BlockKind,
    BlockStart,
    BlockStop,
    MessageDelta,
    MessageStart,
    MessageStop,
    StopReason,
    StreamError,
    StreamEvent,
    TextDelta,
    ThinkingDelta,
    ToolArgsDelta,
)
from relaygate.relay.dialects.openai_chat.finish import finish_reason, stop_reason
from relaygate.relay.dialects.openai_chat.usage import read_usage, usage_object
from relaygate.relay.dialects.sse import event_object

__all__ = ["OpenAIChatStreamDecoder", "OpenAIChatStreamEncoder"]


def _text(value: Any) -> str:
    return value if isinstance(value, str) else ""


@dataclass(slots=True, eq=False)
class _Call:
    """One tool call of the upstream's. ``block`` is its block's index once started
    (-1 while it waits its turn); ``args`` the fragments kept while it is streamed or
    waits (to tell whether the streamed call is whole, or to send the waiting one)."""

    id: str
    name: str
    block: int = -1
    args: list[str] = field(default_factory=list)


def _whole(fragments: list[str]) -> bool:
    try:
        return isinstance(orjson.loads("".join(fragments)), dict)
    except orjson.JSONDecodeError:
        return False


class OpenAIChatStreamDecoder:
    """Chat chunks (the ``data:`` of each event) to canonical events.

    The message ends at ``[DONE]``; its ``MessageDelta`` goes out as soon as the stop
    reason *and* the usage chunk (``choices: []``) have arrived, or at the end when
    the upstream sends no usage. ``finished`` is set by ``[DONE]`` or an error frame.

    Parallel tool calls become blocks one after the other, as Anthropic streams them
    (no delta for a block already stopped). OpenAI sends one call's arguments after the
    other: a call announced while another streams waits until its first fragment, and
    starts then if the streamed call's arguments are whole JSON (one parse per call).
    A server that interleaves the calls' fragments makes the later calls wait until
    something else comes (text, the finish reason); each is then sent whole.
    """

    __slots__ = (
        "_finish",
        "_kind",
        "_live",
        "_next",
        "_open",
        "_reported",
        "_started",
        "_tools",
        "_waiting",
        "content_events",
        "error",
        "finished",
        "usage",
    )

    def __init__(self) -> None:
        self.usage: Usage | None = None
        self.content_events = 0
        self.finished = False
        self.error: str | None = None
        self._started = False
        self._open = -1  # index of the open block, -1 if none
        self._kind: BlockKind | None = None
        self._next = 0
        self._tools: dict[int, _Call] = {}  # upstream call index -> the call
        self._live: _Call | None = None  # the call being streamed
        self._waiting: list[_Call] = []  # calls announced while another streams
        self._finish: StopReason | None = None
        self._reported = False  # the MessageDelta went out

    def decode(self, data: bytes, out: list[StreamEvent]) -> None:
        if data == b"[DONE]":
            self._end(out)
            return
        chunk = event_object(data)
        if chunk is None:
            return
        if "error" in chunk and chunk["error"] is not None:
            self._error(chunk["error"], out)
            return
        if not self._started:
            self._start(_text(chunk.get("id")), _text(chunk.get("model")), out)
        choices = chunk.get("choices")
        if isinstance(choices, list):
            for choice in choices:
                if isinstance(choice, dict) and choice.get("index", 0) == 0:
                    self._choice(choice, out)
        if (usage := read_usage(chunk)) is not None:
            self.usage = usage
            if choices == [] and self._finish is not None and not self._reported:
                self._report(out)

    def close(self, out: list[StreamEvent]) -> bool:
        """The upstream ended without ``[DONE]`` (many OpenAI-compatible servers omit
        it): end the message if a finish reason came, else leave it unfinished."""
        if self.finished or self._finish is None:
            return False
        self._end(out)
        return True

    def limit(self, out: list[StreamEvent], usage: Usage) -> None:
        """End the message here, as ``finish_reason: "length"`` would (the gateway stopped
        the stream at its hold); ``usage`` is what is billed."""
        if self.finished:
            return
        if not self._started:
            self._start("", "", out)
        self._close_all(out)
        self._finish, self.usage = "max_tokens", usage
        if not self._reported:
            self._report(out)
        self._end(out)

    def _start(self, message_id: str, model: str, out: list[StreamEvent]) -> None:
        self._started = True
        out.append(MessageStart(message_id, model))

    def _choice(self, choice: dict[str, Any], out: list[StreamEvent]) -> None:
        if self._finish is not None:
            return  # nothing may follow the stop reason
        delta = choice.get("delta")
        if isinstance(delta, dict):
            thinking = delta.get("reasoning_content") or delta.get("reasoning")
            if thinking and isinstance(thinking, str):
                self._content("thinking", thinking, out)
            if (text := delta.get("content")) and isinstance(text, str):
                self._content("text", text, out)
            if (refusal := delta.get("refusal")) and isinstance(refusal, str):
                self._content("text", refusal, out)
            if (calls := delta.get("tool_calls")) and isinstance(calls, list):
                for call in calls:
                    if isinstance(call, dict):
                        self._tool_call(call, out)
        if reason := choice.get("finish_reason"):
            self._stop(reason, out)

    def _content(self, kind: BlockKind, text: str, out: list[StreamEvent]) -> None:
        if self._kind != kind:
            self._open_block(kind, out)
        self.content_events += 1
        out.append(
            TextDelta(self._open, text) if kind == "text" else ThinkingDelta(self._open, text)
        )

    def _tool_call(self, call: dict[str, Any], out: list[StreamEvent]) -> None:
        """A fragment of a tool call. A call is named by its ``index``; a new ``id``
        under an index already seen is a new call (some servers put every call at
        index 0, some send no index at all)."""
        key = call.get("index")
        if not isinstance(key, int):
            key = -1
        call_id = _text(call.get("id"))
        function = call.get("function")
        if not isinstance(function, dict):
            function = {}
        current = self._tools.get(key)
        if current is None or (call_id and call_id != current.id):
            current = self._tools[key] = _Call(call_id, _text(function.get("name")))
            if self._live is None:
                self._start_call(current, out)
            else:
                self._waiting.append(current)
        if (arguments := function.get("arguments")) and isinstance(arguments, str):
            self.content_events += 1
            if current.block < 0 and self._live is not None and _whole(self._live.args):
                self._start_call(self._waiting.pop(0), out)  # the streamed call is whole
            if current.block < 0:
                current.args.append(arguments)  # waits its turn
                return
            if current is self._live:
                current.args.append(arguments)
            # a fragment for a call already stopped keeps its index (clients accumulate
            # arguments by index; only a server that reuses a finished call sends one)
            out.append(ToolArgsDelta(current.block, arguments))

    def _start_call(self, call: _Call, out: list[StreamEvent]) -> None:
        """The call's block starts (closing the one before); what it had waiting with goes
        out as one fragment."""
        call.block = self._open_block("tool_use", out, call.id, call.name)
        self._live = call
        if call.args:
            out.append(ToolArgsDelta(call.block, "".join(call.args)))

    def _end_calls(self, out: list[StreamEvent]) -> None:
        """Something other than a tool call comes: the waiting calls go out whole."""
        while self._waiting:
            self._start_call(self._waiting.pop(0), out)
        if self._live is not None:
            self._live.args.clear()
            self._live = None

    def _open_block(
        self, kind: BlockKind, out: list[StreamEvent], tool_id: str = "", tool_name: str = ""
    ) -> int:
        if kind != "tool_use":
            self._end_calls(out)
        self._close_block(out)
        self._open, self._kind = self._next, kind
        self._next += 1
        out.append(BlockStart(self._open, kind, tool_id, tool_name))
        return self._open

    def _close_all(self, out: list[StreamEvent]) -> None:
        self._end_calls(out)
        self._close_block(out)

    def _close_block(self, out: list[StreamEvent]) -> None:
        if self._open >= 0:
            out.append(BlockStop(self._open))
            self._open, self._kind = -1, None

    def _stop(self, reason: Any, out: list[StreamEvent]) -> None:
        stop = stop_reason(reason)
        if stop == "end_turn" and self._tools:
            stop = "tool_use"  # some servers say "stop" after tool calls; clients need tool_use
        self._finish = stop
        self._close_all(out)

    def _report(self, out: list[StreamEvent]) -> None:
        self._reported = True
        stop = self._finish or ("tool_use" if self._tools else "end_turn")
        out.append(MessageDelta(stop, None, self.usage))

    def _end(self, out: list[StreamEvent]) -> None:
        if not self._started:
            self._start("", "", out)
        self._close_all(out)
        if not self._reported:
            self._report(out)
        self.finished = True
        out.append(MessageStop())

    def _error(self, error: Any, out: list[StreamEvent]) -> None:
        if isinstance(error, dict):
            error_type = _text(error.get("type")) or _text(error.get("code")) or "server_error"
            message = _text(error.get("message"))
        else:
            error_type, message = "server_error", _text(error)
        self.error = message or "The upstream stream failed"
        self.finished = True
        out.append(StreamError(error_type, self.error))


class OpenAIChatStreamEncoder:
    """Canonical events to ``chat.completion.chunk`` SSE ending in ``data: [DONE]``.

    Every chunk shares the id/created/model prefix, so it is serialised once; a delta
    costs one ``orjson.dumps`` of its text. With ``include_usage`` every chunk carries
    ``"usage": null`` and the last one (``choices: []``) the usage, as OpenAI sends
    them. Signatures and redacted thinking have no place in a chat chunk and are dropped.
    """

    __slots__ = (
        "_close",
        "_created",
        "_finished",
        "_head",
        "_include_usage",
        "_model",
        "_request_id",
        "_tools",
        "_usage",
    )

    def __init__(self, *, model: str, request_id: str, include_usage: bool, created: int) -> None:
        self._model = model
        self._request_id = request_id
        self._include_usage = include_usage
        self._created = created
        self._head = b""  # b'data: {"id":…,"model":…,' once the message id is known
        self._tools: dict[int, int] = {}  # block index -> tool call index
        self._finished = False  # the finish_reason chunk went out
        self._usage: Usage | None = None
        self._close = b'}],"usage":null}\n\n' if include_usage else b"}]}\n\n"

    def encode(self, events: list[StreamEvent]) -> bytes:
        parts: list[bytes] = []
        add = parts.append
        for event in events:
            match event:
                case TextDelta(_, text):
                    add(self._delta(b'{"content":' + orjson.dumps(text) + b"}"))
                case ToolArgsDelta(index, partial):
                    add(self._tool_args(index, partial))
                case ThinkingDelta(_, thinking):
                    add(self._delta(b'{"reasoning_content":' + orjson.dumps(thinking) + b"}"))
                case BlockStart(index, "tool_use", tool_id, name):
                    add(self._tool_start(index, tool_id, name))
                case MessageStart(message_id):
                    self._start(message_id)
                    add(self._delta(b'{"role":"assistant","content":""}'))
                case MessageDelta(reason, _, usage):
                    self._usage = usage or self._usage
                    add(self._finish(finish_reason(reason)))
                case MessageStop():
                    add(self._end())
                case StreamError(error_type, message):
                    error = {"message": message, "type": error_type, "param": None, "code": None}
                    add(b"data: " + orjson.dumps({"error": error}) + b"\n\n")
                # other block starts, block stops, signatures: nothing to send
        return b"".join(parts)

    def _start(self, message_id: str) -> None:
        unique = message_id.removeprefix("msg_") or self._request_id.removeprefix("req_")
        chunk_id = unique if unique.startswith("chatcmpl-") else "chatcmpl-" + unique
        self._head = (
            b'data: {"id":'
            + orjson.dumps(chunk_id)
            + b',"object":"chat.completion.chunk","created":%d,"model":' % self._created
            + orjson.dumps(self._model)
            + b","
        )

    def _delta(self, delta: bytes, finish: bytes = b"null") -> bytes:
        if not self._head:
            self._start("")
        return (
            self._head
            + b'"choices":[{"index":0,"delta":'
            + delta
            + b',"logprobs":null,"finish_reason":'
            + finish
            + self._close
        )

    def _tool_start(self, index: int, tool_id: str, name: str) -> bytes:
        position = self._tools[index] = len(self._tools)
        call = {
            "index": position,
            "id": tool_id or f"call_{self._request_id.removeprefix('req_')}_{position}",
            "type": "function",
            "function": {"name": name, "arguments": ""},
        }
        return self._delta(orjson.dumps({"tool_calls": [call]}))

    def _tool_args(self, index: int, partial: str) -> bytes:
        call = b'{"index":%d,"function":{"arguments":' % self._tools.get(index, 0)
        return self._delta(b'{"tool_calls":[' + call + orjson.dumps(partial) + b"}}]}")

    def _finish(self, reason: str) -> bytes:
        if self._finished:  # a later message_delta only updates the usage
            return b""
        self._finished = True
        return self._delta(b"{}", orjson.dumps(reason))

    def _end(self) -> bytes:
        tail = self._finish("stop")
        if self._include_usage:
            tail += self._head + b'"choices":[],"usage":' + orjson.dumps(usage_object(self._usage))
            tail += b"}\n\n"
        return tail + b"data: [DONE]\n\n"
