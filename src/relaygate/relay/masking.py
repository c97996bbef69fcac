"""What a channel keeps private, applied to what it answers.

Two jobs, both about the upstream's text reaching the caller:

- :func:`channel_secrets` names what ``core.redact`` must mask for one channel (its
  keys, its base URL's and proxy's hosts, its upstream model name), and
  :func:`mask_error_lines` masks the error events an upstream reports mid-stream.
- :func:`model_renamer` rewrites the ``"model"`` of an answer from the upstream's name to
  the public one the caller asked for, when the channel maps one to the other. It works
  on the bytes (any JSON spacing), so a same-dialect answer is still relayed without
  being parsed; generated text is never touched, because a quote inside a JSON string is
  always escaped and ``"model": "…"`` can only match the answer's own fields.

:class:`Guarded` puts both on a stream reader's output. An unmapped call pays one
substring test per chunk; only a mapped one pays for the rewrite.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

import orjson

from relaygate.channels.spec import ChannelSpec
from relaygate.core.redact import Secrets, map_strings
from relaygate.relay.canonical import Usage

if TYPE_CHECKING:
    from relaygate.relay.crossing import StreamReader

__all__ = [
    "Guarded",
    "LineGuard",
    "Masker",
    "channel_secrets",
    "mask_error_lines",
    "model_renamer",
    "public_model",
]

Masker = Callable[[str], str]
Renamer = Callable[[bytes], bytes]

_ERROR = b'"error"'
_NULL_ERRORS = re.compile(rb'"error"\s*:\s*null')


def _hosts(url: str) -> list[str]:
    """The ways ``url``'s host may be written in an error: with and without its port."""
    try:
        parts = urlsplit(url if "://" in url else f"//{url}")
        host, port = parts.hostname, parts.port
    except ValueError:
        return []
    if not host:
        return []
    hosts = [host] if port is None else [f"{host}:{port}", f"[{host}]:{port}", host]
    return [h for h in hosts if len(h) >= 3]


def _proxy_password(url: str) -> list[str]:
    try:
        password = urlsplit(url).password
    except ValueError:
        return []
    return [password] if password else []


def channel_secrets(channel: ChannelSpec | None, upstream_model: str, public: str) -> Secrets:
    """What the channel keeps private (built on an error only: errors are rare)."""
    if channel is None:
        return Secrets(models=tuple(_mapping(upstream_model, public).items()))
    keys = {*channel.keys, channel.api_key, *_proxy_password(channel.proxy_url)}
    keys.update(v for v in channel.headers.values() if len(v) >= 8)  # custom auth headers
    hosts = [*_hosts(channel.base_url), *(_hosts(channel.proxy_url) if channel.proxy_url else ())]
    mapping = {up: pub for pub, up in channel.models.items() if up and up != pub}
    mapping.update(_mapping(upstream_model, public))
    return Secrets(
        keys=tuple(sorted((k for k in keys if k), key=len, reverse=True)),
        hosts=tuple(sorted(set(hosts), key=len, reverse=True)),
        models=tuple(sorted(mapping.items(), key=lambda item: len(item[0]), reverse=True)),
    )


def _mapping(upstream: str, public: str) -> dict[str, str]:
    return {upstream: public} if upstream and public and upstream != public else {}


def model_renamer(upstream: str, public: str) -> Renamer | None:
    """A rewrite of ``"model": "<upstream>…"`` to the public name; None when unmapped
    (the common case, which then costs nothing). A dated variant of the upstream name
    (``name-2024-08-06``) is renamed too."""
    if not upstream or upstream == public:
        return None
    name, quoted = upstream.encode(), orjson.dumps(public)
    pattern = re.compile(rb'("model"\s*:\s*)"' + re.escape(name) + rb'[^"\\]*"')
    replacement = b"\\1" + quoted.replace(b"\\", b"\\\\")
    compact, renamed = b'"model":"' + name + b'"', b'"model":' + quoted

    def rename(data: bytes) -> bytes:
        if name not in data:
            return data
        data = data.replace(compact, renamed)  # the common spelling, without a regex
        return pattern.sub(replacement, data) if name in data else data

    return rename


def public_model(body: bytes, upstream: str, public: str) -> bytes:
    """A whole answer with the public model name (unchanged when the channel maps none)."""
    rename = model_renamer(upstream, public)
    return body if rename is None else rename(body)


def _mask_event(event: Any, mask: Masker) -> Any:
    """An error event with its text masked; a failed Response keeps its output as is."""
    if not isinstance(event, dict):
        return event
    response = event.get("response")
    if isinstance(response, dict) and response.get("error") and "error" not in event:
        return {**event, "response": {**response, "error": map_strings(response["error"], mask)}}
    if "error" in event or event.get("type") == "error":
        return map_strings(event, mask)
    return event


def mask_error_lines(data: bytes, mask: Masker, seen: list[str] | None = None) -> bytes:
    """SSE bytes with the text of their error events masked (every dialect puts an
    upstream's error under an ``error`` key); other events pass unchanged. The masked
    message of an OpenAI error event (``data: {"error": {...}}``) is added to ``seen``."""
    if _ERROR not in data or data.count(_ERROR) == len(_NULL_ERRORS.findall(data)):
        return data
    lines = data.split(b"\n")
    for i, line in enumerate(lines):
        if not line.startswith(b"data:") or _ERROR not in line:
            continue
        try:
            event = orjson.loads(line[5:].strip())
        except orjson.JSONDecodeError:
            continue
        masked = _mask_event(event, mask)
        if seen is not None and isinstance(masked, dict) and isinstance(masked.get("error"), dict):
            message = masked["error"].get("message")
            seen.append(message if isinstance(message, str) else "The upstream stream failed")
        if masked != event:
            ending = b"\r" if line.endswith(b"\r") else b""
            lines[i] = b"data: " + orjson.dumps(masked) + ending
    return b"\n".join(lines)


class LineGuard:
    """Raw SSE bytes relayed as they come (the media routes' streams), held back only to
    the end of their last whole line, so an error event is masked whole."""

    __slots__ = ("_mask", "_tail")

    def __init__(self, mask: Masker) -> None:
        self._mask, self._tail = mask, b""

    def feed(self, chunk: bytes) -> bytes:
        data = self._tail + chunk if self._tail else chunk
        end = data.rfind(b"\n") + 1
        self._tail, out = data[end:], data[:end]
        return mask_error_lines(out, self._mask) if _ERROR in out else out

    def flush(self) -> bytes:
        tail, self._tail = self._tail, b""
        return mask_error_lines(tail, self._mask)


class Guarded:
    """A stream reader whose output reaches the caller with the public model name and
    masked error events; its ``error`` (the upstream's own message, which ends in the
    usage record and a failed Response) is masked too, and so is the ``response`` a
    same-dialect Responses stream is stored as. Every other member of ``StreamReader``
    is the inner reader's, forwarded one by one so the type checker sees each.

    ``reads_errors``: whether the inner reader reads the upstream's error events into
    its ``error``; for one that does not (``SSEScanner``), the first error event seen
    here is the stream's error."""

    __slots__ = ("_inner", "_mask", "_rename", "_seen")

    def __init__(
        self, inner: StreamReader, mask: Masker, rename: Renamer | None, *, reads_errors: bool
    ) -> None:
        self._inner, self._mask, self._rename = inner, mask, rename
        self._seen: list[str] | None = None if reads_errors else []

    @property
    def usage(self) -> Usage | None:
        return self._inner.usage

    @property
    def content_events(self) -> int:
        return self._inner.content_events

    @property
    def finished(self) -> bool:
        return self._inner.finished

    @property
    def delivered(self) -> int:
        return self._inner.delivered

    @property
    def final_usage(self) -> bool:
        return self._inner.final_usage

    def stop_at_limit(self, usage: Usage) -> bytes:
        """The inner reader's ending, renamed too: its frames may repeat the model an
        earlier upstream event named."""
        out = self._inner.stop_at_limit(usage)
        return self._rename(out) if self._rename is not None else out

    def fail(self, message: str) -> bytes | None:
        """The inner reader's terminal failure; ``message`` is the gateway's own."""
        return self._inner.fail(message)

    @property
    def error(self) -> str | None:
        if self._seen is not None:
            return self._seen[0] if self._seen else None
        error = self._inner.error
        return self._mask(error) if isinstance(error, str) else None

    @property
    def response(self) -> dict[str, Any] | None:
        response = self._inner.response
        if not isinstance(response, dict) or self._rename is None and not response.get("error"):
            return response
        data = orjson.dumps(response)
        fixed: Any = orjson.loads(self._rename(data)) if self._rename is not None else response
        masked: dict[str, Any] = _mask_event({"response": fixed}, self._mask)["response"]
        return masked

    def feed(self, chunk: bytes) -> bytes:
        out: bytes = self._inner.feed(chunk)  # inlined, not shared with flush: every chunk
        if self._rename is not None:
            out = self._rename(out)
        return mask_error_lines(out, self._mask, self._seen) if _ERROR in out else out

    def flush(self) -> bytes:
        out: bytes = self._inner.flush()
        if self._rename is not None:
            out = self._rename(out)
        return mask_error_lines(out, self._mask, self._seen) if _ERROR in out else out
