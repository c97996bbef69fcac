"""How a call crosses from the caller's dialect to its channel's, and back.

A call whose channel speaks the caller's dialect is relayed as it came (bytes in, bytes
out); only then is it a passthrough. Otherwise the body is translated on the way up
(``relay.translate``), the answer on the way down, and a stream event by event
(the client dialect's ``translated_stream``). What differs between dialects is read
from their records (``dialects/registry.py``), never asked of their names. The legacy
Text Completions route rides on Messages: its body becomes a Messages request at
admission and its answer a ``completion`` again here.

The translators are imported on the first translated call, not at start-up: a gateway
whose callers all speak their channels' dialect never loads them (idle memory is a
target, docs/benchmarks.md).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

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
from relaygate.relay.dialects.anthropic_messages.request import COUNT_TOKENS
from relaygate.relay.dialects.openai_chat.capabilities import UNKNOWN, ModelCapabilities
from relaygate.relay.dialects.openai_chat.usage import usage_object
from relaygate.relay.dialects.record import Passthrough, StreamReader, StreamStart
from relaygate.relay.dialects.registry import dialect_of
from relaygate.relay.masking import Guarded, Masker, model_renamer

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
    return dialect_of(upstream).carries.get((client, endpoint))


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
    source = dialect_of(client)
    if client != upstream and source.compaction(endpoint, payload):
        from relaygate.relay.compaction import summary_request

        payload, history = summary_request(payload, history or []), []
    if client == upstream:
        return source.native_body(payload, history or [])
    from relaygate.relay.translate import translate_request

    return translate_request(
        client,
        upstream,
        payload,
        history=history,
        default_max_tokens=default_max_tokens,
        capabilities=capabilities,
    )


def cap_output(body: dict[str, Any], dialect: str, cap: int | None) -> None:
    """Lower a translated body's output-token ceiling to the channel's ``cap`` (when it
    has one and the dialect's render did not already keep within it)."""
    record = dialect_of(dialect)
    if cap is None or not record.caps_translated_output:
        return
    for name in record.output_fields:
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
    read_usage = dialect_of(upstream).read_usage
    if client == upstream and not legacy:
        # a Responses turn's answer (it has a template) is kept, to be stored
        kept = parsed if template is not None and isinstance(parsed, dict) else None
        return body, read_usage(parsed), kept
    if not isinstance(parsed, dict):
        raise _not_json()
    usage = read_usage(parsed)
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
    from relaygate.relay.translate import translate_response

    return translate_response(upstream, client, parsed, model=model, template=template)


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

    reader: StreamReader
    source = dialect_of(client)
    if client == upstream:
        reader = source.passthrough(Passthrough(injected, completions, choices))
        reads_errors = source.reads_stream_errors
    else:
        start = StreamStart(model, request_id, include_usage, input_estimate, template=template)
        reader = source.codec().translated_stream(dialect_of(upstream).name, start)
        reads_errors = True
    reader = Guarded(reader, mask, model_renamer(upstream_model, model), reads_errors=reads_errors)
    if template is not None:  # a Responses turn: its Response is stored, not assembled
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
    return endpoint == COUNT_TOKENS and not dialect_of(upstream).counts_tokens
