"""How a call crosses from the caller's dialect to its channel's, and back.

A call whose channel speaks the caller's dialect is relayed as it came (bytes in, bytes
out); only then is it a passthrough. Otherwise the body is translated on the way up
(``relay.translate``), the answer on the way down, and a stream event by event
(``relay.translate_stream``). The legacy Text Completions route rides on Messages: its
body becomes a Messages request at admission and its answer a ``completion`` again here.

The translators are imported on the first translated call, not at start-up: a gateway
whose callers all speak their channels' dialect never loads them (idle memory is a
target, docs/benchmarks.md).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Protocol

import orjson

from relaygate.core.errors import (
    ClientError,
    InvalidRequest,
    NotFound,
    PayloadTooLarge,
    RateLimited,
    UpstreamBadResponse,
)
from relaygate.core.redact import redact
from relaygate.relay.canonical import Usage
from relaygate.relay.dialects import ANTHROPIC, OPENAI, RESPONSES
from relaygate.relay.dialects.anthropic_messages.request import COUNT_TOKENS, MESSAGES
from relaygate.relay.dialects.anthropic_messages.scanner import AnthropicScanner
from relaygate.relay.dialects.openai_chat.capabilities import UNKNOWN, ModelCapabilities
from relaygate.relay.dialects.openai_chat.request import CHAT
from relaygate.relay.dialects.openai_chat.usage import usage_object
from relaygate.relay.dialects.openai_responses.request import COMPACT, has_trigger
from relaygate.relay.masking import Guarded, Masker, model_renamer
from relaygate.relay.streaming import SSEScanner
from relaygate.relay.wire import ANTHROPIC_WIRE, OPENAI_WIRE, RESPONSES_WIRE

if TYPE_CHECKING:
    from relaygate.relay.dialects.anthropic_messages.legacy import CompletionStream

__all__ = [
    "Assembling",
    "StreamReader",
    "cap_output",
    "counts_locally",
    "read_reply",
    "stream_reader",
    "upstream_endpoint",
    "upstream_error",
    "upstream_payload",
]

# (caller's dialect, endpoint, channel's dialect) -> the channel's endpoint for the call
_ACROSS = {
    (ANTHROPIC, MESSAGES, OPENAI): CHAT,
    (OPENAI, CHAT, ANTHROPIC): MESSAGES,
    (RESPONSES, RESPONSES, OPENAI): CHAT,  # the Responses endpoint is named like its dialect
    (RESPONSES, RESPONSES, ANTHROPIC): MESSAGES,
    # compacted by the model itself (relay/compaction.py): a summarisation call
    (RESPONSES, COMPACT, OPENAI): CHAT,
    (RESPONSES, COMPACT, ANTHROPIC): MESSAGES,
}
_WIRES = {OPENAI: OPENAI_WIRE, ANTHROPIC: ANTHROPIC_WIRE, RESPONSES: RESPONSES_WIRE}
# where each dialect's body says how many tokens the answer may have
_OUTPUT_FIELDS = {
    OPENAI: ("max_tokens", "max_completion_tokens"),
    ANTHROPIC: ("max_tokens",),
    RESPONSES: ("max_output_tokens",),
}


class StreamReader(Protocol):
    """Sits between an upstream stream and the client: what the stream answer, the
    background runs and the wrappers (``Guarded``, ``Assembling``) may rely on, so a
    renamed member is a type error rather than a silently lost ``response.failed``.

    ``delivered`` is the estimated output tokens of the text relayed so far (what a cut
    stream is billed for at least, and what the stream cap watches); ``stop_at_limit``
    ends the client's stream as an output limit would, in its dialect, with ``usage``
    (what is billed), and returns those last bytes.

    Members only some dialects fill, with a neutral value on every other reader:
    ``error``, the upstream's own message when it reported an error mid-stream (None: it
    did not, or the reader does not read error events: ``Guarded`` watches those);
    ``response``, the final Response of a Responses stream, to be stored (None elsewhere);
    ``final_usage``, whether an OpenAI stream's last usage chunk went by (some servers
    send no ``[DONE]``); ``fail``, the dialect's own terminal failure for a stream the
    upstream broke off (``response.failed``), or None where the dialect has none and an
    error frame ends the stream instead."""

    @property
    def error(self) -> str | None: ...

    @property
    def response(self) -> dict[str, Any] | None: ...

    @property
    def final_usage(self) -> bool: ...

    def fail(self, message: str) -> bytes | None: ...

    @property
    def usage(self) -> Usage | None: ...

    @property
    def content_events(self) -> int: ...

    @property
    def delivered(self) -> int: ...

    def stop_at_limit(self, usage: Usage) -> bytes: ...

    @property
    def finished(self) -> bool: ...

    def feed(self, chunk: bytes) -> bytes: ...

    def flush(self) -> bytes: ...


# an upstream 4xx the caller can act on -> the error it becomes in the caller's dialect
# (409 and 422 have no class of their own here and become a 400)
_UPSTREAM_4XX: dict[int, type[ClientError]] = {
    404: NotFound,
    413: PayloadTooLarge,
    429: RateLimited,
}


def upstream_endpoint(client: str, endpoint: str, upstream: str) -> str | None:
    """The channel's endpoint for the call, or None when its dialect has no such call."""
    if client == upstream:
        return endpoint
    return _ACROSS.get((client, endpoint, upstream))


def upstream_payload(
    client: str,
    upstream: str,
    payload: dict[str, Any],
    default_max_tokens: int,
    history: list[dict[str, Any]] | None = None,
    endpoint: str = "",
    capabilities: ModelCapabilities = UNKNOWN,
) -> dict[str, Any]:
    """The body for the channel; a Responses turn is sent with its stored ``history``.
    A compaction (``endpoint`` COMPACT, or a turn ending with a ``compaction_trigger``)
    for a channel without the Responses API becomes a summarisation call.
    ``capabilities``: what the model of an OpenAI chat channel accepts (a translated
    body carries only that)."""
    if client == RESPONSES != upstream and (endpoint == COMPACT or has_trigger(payload)):
        from relaygate.relay.compaction import summary_request

        payload, history = summary_request(payload, history or []), []
    if client == upstream:
        return _native_responses(payload, history or []) if client == RESPONSES else payload
    if client == RESPONSES:
        from relaygate.relay.translate_responses import responses_request_to

        return responses_request_to(
            upstream,
            payload,
            history or [],
            default_max_tokens=default_max_tokens,
            capabilities=capabilities,
        )
    from relaygate.relay.translate import translate_request

    return translate_request(
        client,
        upstream,
        payload,
        default_max_tokens=default_max_tokens,
        capabilities=capabilities,
    )


def _native_responses(payload: dict[str, Any], history: list[dict[str, Any]]) -> dict[str, Any]:
    """A Responses turn for an upstream that serves the API itself: Relaygate's history
    goes in ``input``, because the chain may have begun on another channel, whose ids the
    upstream has never seen. Reasoning that Relaygate sealed for another vendor's model
    is left out (only that vendor can read it)."""
    out = {k: v for k, v in payload.items() if k not in ("previous_response_id", "conversation")}
    if history:
        current = payload.get("input")
        turn = [{"role": "user", "content": current}] if isinstance(current, str) else current
        replay = [item for item in history if not _sealed(item)]
        out["input"] = [*replay, *(turn if isinstance(turn, list) else [])]
    return out


def _sealed(item: dict[str, Any]) -> bool:
    from relaygate.relay.dialects.openai_responses.output import unseal

    return item.get("type") == "reasoning" and unseal(item.get("encrypted_content")) is not None


def cap_output(body: dict[str, Any], dialect: str, cap: int | None) -> None:
    """Lower the body's output-token ceiling to the channel's ``cap`` (when it has one)."""
    if cap is None:
        return
    for name in _OUTPUT_FIELDS[dialect]:
        value = body.get(name)
        if isinstance(value, int) and not isinstance(value, bool) and value > cap:
            body[name] = cap
    thinking = body.get("thinking")  # Anthropic: the budget must stay below max_tokens
    if isinstance(thinking, dict) and isinstance(thinking.get("budget_tokens"), int):
        ceiling = body.get("max_tokens")
        if isinstance(ceiling, int) and thinking["budget_tokens"] >= ceiling:
            thinking["budget_tokens"] = max(1024, ceiling // 2)
            if thinking["budget_tokens"] >= ceiling:
                body.pop("thinking")


def upstream_error(upstream: str, status: int, body: bytes) -> ClientError:
    """An upstream 4xx body in the other dialect: keep its message, drop its shape.

    Both dialects put the text at ``error.message``.
    """
    message = f"The upstream refused the request (HTTP {status})."
    try:
        parsed = orjson.loads(body)
    except orjson.JSONDecodeError:
        parsed = None
    error = parsed.get("error") if isinstance(parsed, dict) else None
    if isinstance(error, dict) and isinstance(error.get("message"), str):
        message = error["message"]
    elif isinstance(error, str):
        message = error
    return _UPSTREAM_4XX.get(status, InvalidRequest)(message)


def read_reply(
    client: str,
    upstream: str,
    body: bytes,
    *,
    model: str,
    legacy: bool,
    template: dict[str, Any] | None = None,
    parsed: dict[str, Any] | None = None,
) -> tuple[bytes, Usage | None, dict[str, Any] | None]:
    """A complete upstream answer: the bytes for the client, the upstream's usage and,
    when translated, the client's answer as an object (a Response to be stored).
    ``parsed``: ``body`` already parsed (the relay checks a whole answer before it is
    read here; a large embeddings answer is not parsed twice)."""
    if parsed is None:
        try:
            parsed = orjson.loads(body)
        except orjson.JSONDecodeError as exc:
            raise _not_json() from exc
    if client == upstream and not legacy:
        kept = parsed if client == RESPONSES and isinstance(parsed, dict) else None
        return body, _WIRES[upstream].read_usage(parsed), kept
    if not isinstance(parsed, dict):
        raise _not_json()
    usage = _WIRES[upstream].read_usage(parsed)
    answer = _translated(client, upstream, parsed, model, template)
    if legacy:
        from relaygate.relay.dialects.anthropic_messages.legacy import message_to_completion

        answer = message_to_completion(answer, model)
    return orjson.dumps(answer), usage, answer


def _translated(
    client: str,
    upstream: str,
    parsed: dict[str, Any],
    model: str,
    template: dict[str, Any] | None,
) -> dict[str, Any]:
    if client == upstream:
        return parsed
    if client == RESPONSES:
        from relaygate.relay.translate_responses import responses_reply_from

        assert template is not None  # a Responses turn always has one
        return responses_reply_from(upstream, parsed, response_template=template)
    from relaygate.relay.translate import translate_response

    return translate_response(upstream, client, parsed, model=model)


def _not_json() -> UpstreamBadResponse:
    return UpstreamBadResponse("The upstream returned a body that is not valid JSON.")


class _Chain:
    """Two readers in a row (the legacy route over a translated stream)."""

    __slots__ = ("_first", "_second")

    def __init__(self, first: StreamReader, second: CompletionStream) -> None:
        self._first, self._second = first, second

    @property
    def usage(self) -> Usage | None:
        return self._first.usage or self._second.usage

    @property
    def content_events(self) -> int:
        return self._second.content_events

    @property
    def delivered(self) -> int:
        return self._first.delivered  # what the upstream generated, thinking included

    @property
    def finished(self) -> bool:
        return self._second.finished

    @property
    def error(self) -> str | None:
        return self._first.error

    @property
    def response(self) -> dict[str, Any] | None:
        return None  # a Messages stream: no Response to store

    @property
    def final_usage(self) -> bool:
        return False  # an Anthropic stream ends with ``message_stop``, not a usage chunk

    def fail(self, message: str) -> bytes | None:
        return None  # ended by the error frame

    def feed(self, chunk: bytes) -> bytes:
        return self._second.feed(self._first.feed(chunk))

    def stop_at_limit(self, usage: Usage) -> bytes:
        return self._second.feed(self._first.stop_at_limit(usage)) + self._second.flush()

    def flush(self) -> bytes:
        return self._second.feed(self._first.flush()) + self._second.flush()


def stream_reader(
    client: str,
    upstream: str,
    *,
    model: str,
    request_id: str,
    include_usage: bool,
    injected: bool,
    input_estimate: int = 0,
    legacy: bool,
    template: dict[str, Any] | None = None,
    assemble: bool = False,
    upstream_model: str = "",
    mask: Masker = redact,
    completions: bool = False,
    choices: int = 1,
) -> StreamReader:
    """The reader for one stream: a scanner when passed through, else a translator;
    ``Guarded`` so the caller sees the public ``model`` (not the channel's
    ``upstream_model``) and upstream error text only masked (``mask``). ``completions``:
    the legacy OpenAI Completions route; ``choices``: the ``n`` asked for, on the OpenAI
    routes. ``input_estimate``: the local count of the request's input tokens, which an
    Anthropic caller's ``message_start`` reports when the upstream counts only at the end."""
    from relaygate.relay.dialects.anthropic_messages.legacy import CompletionStream
    from relaygate.relay.translate_stream import StreamTranslator

    reader: StreamReader
    if client == RESPONSES and upstream == RESPONSES:
        from relaygate.relay.dialects.openai_responses.stream import ResponsesScanner

        reader = ResponsesScanner()
    elif client == RESPONSES:
        from relaygate.relay.translate_responses import ResponsesTranslator

        assert template is not None
        reader = ResponsesTranslator(upstream, response_template=template)
    elif client != upstream:
        reader = StreamTranslator(
            upstream,
            client,
            model=model,
            request_id=request_id,
            include_usage=include_usage,
            input_estimate=input_estimate,
        )
    elif client == ANTHROPIC:
        reader = AnthropicScanner()
    else:
        reader = SSEScanner(drop_usage_chunk=injected, completions=completions, choices=choices)
    # an OpenAI stream relayed as it came is the one whose error events nobody reads
    reads_errors = not isinstance(reader, SSEScanner)
    reader = Guarded(reader, mask, model_renamer(upstream_model, model), reads_errors=reads_errors)
    if client == RESPONSES:
        return reader
    if legacy:
        return _Chain(reader, CompletionStream(model))
    return Assembling(reader) if assemble else reader


class Assembling:
    """A reader whose output is also put back together as a ``chat.completion`` (a
    streamed ``store: true`` call, which Relaygate keeps like a whole one)."""

    __slots__ = ("_assembler", "_reader")

    def __init__(self, reader: StreamReader) -> None:
        from relaygate.relay.dialects.openai_chat.assemble import ChatAssembler

        self._reader, self._assembler = reader, ChatAssembler()

    @property
    def usage(self) -> Usage | None:
        return self._reader.usage

    @property
    def content_events(self) -> int:
        return self._reader.content_events

    @property
    def delivered(self) -> int:
        return self._reader.delivered

    @property
    def final_usage(self) -> bool:
        return self._reader.final_usage

    @property
    def finished(self) -> bool:
        return self._reader.finished

    def stop_at_limit(self, usage: Usage) -> bytes:
        out = self._reader.stop_at_limit(usage)
        self._assembler.feed(out)
        return out

    @property
    def error(self) -> str | None:
        return self._reader.error

    @property
    def response(self) -> dict[str, Any] | None:
        return None  # a chat stream: kept as the completion it assembles, not a Response

    def fail(self, message: str) -> bytes | None:
        return None  # a chat stream has no terminal failure: the error frame ends it

    def feed(self, chunk: bytes) -> bytes:
        out = self._reader.feed(chunk)
        self._assembler.feed(out)
        return out

    def flush(self) -> bytes:
        out = self._reader.flush()
        self._assembler.feed(out + b"\n\n")
        return out

    def completion(self) -> dict[str, Any]:
        """The completion, with the upstream's usage when the client's stream had none
        (the gateway asked for it on the client's behalf and kept it out of the stream)."""
        completion = self._assembler.completion()
        usage = self._reader.usage
        if completion["usage"] is None and usage is not None:
            completion["usage"] = usage_object(usage)
        return completion


def counts_locally(endpoint: str, upstream: str) -> bool:
    """count_tokens on a channel that cannot count: answered with our own estimate."""
    return endpoint == COUNT_TOKENS and upstream != ANTHROPIC
