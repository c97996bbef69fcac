"""The Dialect record: everything the relay does differently for one wire format.

One record per format (``openai_chat``, ``anthropic_messages``, ``openai_responses``,
each package's ``dialect.py``), found by name or channel type in ``registry.py``. The
pipeline resolves a call's two records (the caller's and the channel's) once, when the
route is chosen, and from then on only reads their fields: no module outside the
records asks ``if dialect == ...``. Translation is
``target.codec().render_request(source.codec().parse_request(body, history), ...)``.

The record is split in two so that a gateway whose callers all speak their channels'
dialect never loads a translator (idle memory is a target, docs/benchmarks.md): the
fields a passthrough call needs (admission, limits, errors, usage, stream openings)
are on :class:`Dialect`; the translation half (:class:`Codec`) is imported by
``Dialect.codec()`` on the first translated call.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol

from relaygate.channels.spec import ChannelSpec
from relaygate.core.error_formats import ErrorAnswer, ErrorFormat, render_error
from relaygate.core.errors import ClientError, ModelNotPermitted, RelaygateError
from relaygate.limits.policy import Decision
from relaygate.relay.canonical import Usage
from relaygate.relay.canonical.messages import Request, Response
from relaygate.relay.canonical.stream import StreamEvent
from relaygate.relay.dialects import DialectName
from relaygate.relay.dialects.decoding import StreamDecoder
from relaygate.relay.dialects.file_inputs import FileInput, no_file_inputs
from relaygate.relay.dialects.openai_chat.capabilities import ModelCapabilities
from relaygate.relay.dialects.openai_chat.request import RequestFacts
from relaygate.relay.dialects.openings import OpeningTest

__all__ = [
    "Codec",
    "Dialect",
    "ModelEntry",
    "Passthrough",
    "ProbeBody",
    "RateLimitHeaders",
    "RenderOptions",
    "StreamEncoder",
    "StreamReader",
    "StreamStart",
    "as_sent",
    "never_compacts",
    "one_choice",
]


@dataclass(frozen=True, slots=True)
class RenderOptions:
    """What a translated request body depends on besides the canonical request."""

    default_max_tokens: int  # Anthropic's required ``max_tokens`` when the caller set none
    capabilities: ModelCapabilities  # the upstream model's, from the target's hook


@dataclass(frozen=True, slots=True)
class StreamStart:
    """What the client's stream encoder is opened with, whichever dialect it writes."""

    model: str  # the public model name the client asked for
    request_id: str
    include_usage: bool = False  # Chat Completions: the client asked for the usage chunk
    input_estimate: int = 0  # Messages: the input count ``message_start`` carries early
    created: int | None = None  # Chat Completions: the chunks' ``created`` (None: now)
    template: dict[str, Any] | None = None  # Responses: the Response known before the call


class StreamEncoder(Protocol):
    def encode(self, events: list[StreamEvent]) -> bytes: ...


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


@dataclass(frozen=True, slots=True)
class Passthrough:
    """What the reader of a stream relayed in its own dialect is opened with."""

    injected: bool = False  # Chat: the gateway asked for the usage chunk; keep it out
    completions: bool = False  # Chat: the legacy Completions route
    choices: int = 1  # Chat: the ``n`` asked for


@dataclass(frozen=True, slots=True)
class ProbeBody:
    """The cheapest call a channel of the dialect takes (relay/probe.py)."""

    endpoint: str
    payload: dict[str, Any]


@dataclass(frozen=True, slots=True)
class Codec:
    """The translation half of a dialect, loaded on the first translated call.

    None marks a direction the dialect is never translated in (a Responses channel is
    only ever called by a Responses caller, so nothing renders a Responses request or
    decodes a Responses stream)."""

    # the caller's body (and the stored history a Responses turn continues) -> canonical
    parse_request: Callable[[dict[str, Any], list[dict[str, Any]]], Request]
    render_request: Callable[[Request, RenderOptions], dict[str, Any]] | None
    parse_response: Callable[[dict[str, Any]], Response] | None
    # canonical answer -> the client's body (``template``: a Responses turn's Response)
    render_response: Callable[[Response, dict[str, Any] | None], dict[str, Any]]
    stream_decoder: Callable[[], StreamDecoder] | None
    stream_encoder: Callable[[StreamStart], StreamEncoder] | None
    # the client's reader for a stream from a channel of another dialect (by its name)
    translated_stream: Callable[[DialectName, StreamStart], StreamReader]


ModelEntry = Callable[[str, int], dict[str, Any]]
# a rate-limit decision (and now) -> the response headers that report it
RateLimitHeaders = Callable[[Decision, datetime], dict[str, str]]


def one_choice(payload: dict[str, Any]) -> int:
    """For a dialect without ``n``: every call has one answer."""
    return 1


@dataclass(frozen=True, slots=True)
class Dialect:
    """One wire format, as the pipeline sees it (see the module docstring)."""

    name: DialectName
    # --- admission: the caller's side ---------------------------------------------------
    inspect: Callable[[str, Any], RequestFacts]
    errors: ErrorFormat  # how an error is answered before the first byte (core/error_formats)
    stream_error_frame: Callable[[RelaygateError, str], bytes]
    # the output tokens the call can be billed for, every choice included: (endpoint, body,
    # tokens per choice when the body sets no limit; 0 asks whether it sets one)
    max_output: Callable[[str, Any, int], int]
    rate_limit_headers: RateLimitHeaders
    id_headers: tuple[bytes, ...]  # the response headers that carry our request id
    # the schema a strict structured-output caller's answer must validate against
    strict_schema: Callable[[dict[str, Any]], dict[str, Any] | None]
    model_entry: ModelEntry  # one model of ``GET /v1/models``
    # the whole list: (the (id, created) pairs the key sees, the query string)
    model_list: Callable[[list[tuple[str, int]], bytes], dict[str, Any]]
    # whether a call (endpoint, body) asks for its history to be compacted: on a channel
    # of another dialect it becomes a summarisation call (relay/compaction.py)
    compaction: Callable[[str, dict[str, Any]], bool]
    # the body for a channel of this same dialect, given the stored history it continues
    native_body: Callable[[dict[str, Any], list[dict[str, Any]]], dict[str, Any]]
    # --- the channel's side -------------------------------------------------------------
    read_usage: Callable[[Any], Usage | None]
    # How a stream in this dialect must begin: its first event is judged before the
    # stream is relayed, so a channel that answers garbage is failed over
    stream_opening: OpeningTest
    # the reader of a stream relayed as it came (metered, whole events only)
    passthrough: Callable[[Passthrough], StreamReader]
    reads_stream_errors: bool  # whether that reader reads the stream's error events
    # (caller's dialect, caller's endpoint) -> this dialect's endpoint for a translated call
    carries: Mapping[tuple[str, str], str]
    # the body fields that bound the answer's length (lowered to a channel's cap)
    output_fields: tuple[str, ...]
    # whether a translated body is lowered to the channel's ``max_output_tokens`` after
    # rendering (False where the capabilities hook already rendered within it)
    caps_translated_output: bool
    # what the upstream model accepts, per channel and model (upstream name, public name)
    capabilities: Callable[[ChannelSpec, str, str], ModelCapabilities]
    probe: Callable[[str], ProbeBody]
    # the finished text of a whole answer, for the strict-schema check (None: not one)
    final_text: Callable[[dict[str, Any]], str | None]
    codec: Callable[[], Codec]
    counts_tokens: bool = False  # the upstream serves count_tokens itself
    # the local estimate of a count_tokens body (the dialects that have that route)
    count_estimate: Callable[[dict[str, Any]], int] | None = None
    # the choices a caller gets (the ``n`` each of which ends when a stream is stopped)
    choices_returned: Callable[[dict[str, Any]], int] = one_choice
    stores_turns: bool = False  # a call continues (and is stored as) a stored turn
    # the content parts of a call (endpoint, body) that name a stored file of the caller's,
    # each with how it is filled inline (relay/dialects/file_inputs.py)
    file_inputs: Callable[[str, dict[str, Any]], list[FileInput]] = no_file_inputs
    asks_usage_chunk: bool = False  # a passthrough stream is asked for its usage chunk
    overloaded_529: bool = False  # an upstream 529 is this dialect's "overloaded" error
    # A model the key may not use. OpenAI callers get the documented 401; Anthropic callers
    # get Anthropic's 403 ``permission_error``, because Claude Code retries a 401 with
    # backoff for minutes (client-requirements §5.1) while it reports a 403 and exits.
    not_permitted: type[ClientError] = ModelNotPermitted

    def render_error(self, err: RelaygateError, request_id: str | None = None) -> ErrorAnswer:
        """An error answered before the first byte, in this dialect's error shape."""
        return render_error(self.errors, err, request_id)


def never_compacts(endpoint: str, payload: dict[str, Any]) -> bool:
    """For a dialect whose caller carries its whole history: nothing to compact."""
    return False


def as_sent(payload: dict[str, Any], history: list[dict[str, Any]]) -> dict[str, Any]:
    """For a dialect with no stored history: the caller's body is the channel's."""
    return payload
