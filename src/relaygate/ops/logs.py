"""Structured logs: one format for every logger, the request id on every line written
while a request is served, and no secret on any line at any level.

``log_format = "json"`` writes one JSON object per line (``ts``, ``level``, ``logger``,
``message``, ``request_id`` inside a request, the call's fields on the per-call line, and
``exc`` for a traceback); ``"text"`` writes the same as readable text. Both pass through
:func:`scrub`, which masks API keys (``sk-…``), OAuth tokens (``omg-oat-v1-…``), Stripe
secrets, ``Bearer``/``Basic`` credentials and session cookies, whatever the logger and the
level: a line quoting a header or an upstream's error cannot leak one.

The request id lives in a context variable (:data:`REQUEST_ID`) set when a request starts
(the relay's call lifecycle, the control plane's request-id wrapper); tasks a request
starts inherit it.
"""

from __future__ import annotations

import logging
import re
import sys
from contextvars import ContextVar
from datetime import UTC, datetime
from typing import Any, Literal

import orjson

__all__ = [
    "CALLS_LOGGER",
    "CALL_FIELDS",
    "REQUEST_ID",
    "JSONFormatter",
    "TextFormatter",
    "configure",
    "scrub",
]

REQUEST_ID: ContextVar[str | None] = ContextVar("relaygate_request_id", default=None)
CALLS_LOGGER = "relaygate.calls"  # the per-call lines (relay/observe.py)
CALL_FIELDS = "call"  # the per-call line's fields: ``log.info("call", extra={CALL_FIELDS: {...}})``

_MASK = "***"
_SECRETS = re.compile(
    r"\b(?:sk|rk|pk)-[A-Za-z0-9_\-*.]{8,}"  # API keys: Relaygate's, OpenAI's, Anthropic's
    r"|\bomg-oat-v1-[A-Za-z0-9_\-]+"  # OAuth access tokens (oauth/secrets.py)
    r"|\b(?:sk|rk|pk)_(?:live|test)_[A-Za-z0-9]+"  # Stripe keys
    r"|\bwhsec_[A-Za-z0-9]+"  # Stripe webhook secrets
    r"|\bAIza[0-9A-Za-z_\-]{20,}"  # Google keys
)
_CREDENTIALS = re.compile(
    r"\b(Bearer|Basic)\s+[A-Za-z0-9._~+/=\-]{8,}"  # Authorization values
    r"|\b(rg_session|x-api-key|api-key)([=:]\s*)[^\s;,\"']+",  # cookies, key headers
    re.IGNORECASE,
)


def _credential(match: re.Match[str]) -> str:
    if match.group(1):
        return f"{match.group(1)} {_MASK}"
    return f"{match.group(2)}{match.group(3)}{_MASK}"


def scrub(text: str) -> str:
    """``text`` with every secret it quotes masked."""
    return _CREDENTIALS.sub(_credential, _SECRETS.sub(_MASK, text))


class JSONFormatter(logging.Formatter):
    """One JSON object per line (module doc). The fields of the per-call line are ids,
    numbers and names the observer made safe (relay/observe.py); the message and a
    traceback are masked here."""

    def __init__(self) -> None:
        super().__init__()
        self._second = -1
        self._stamp = ""  # the timestamp of ``_second`` up to the seconds

    def _timestamp(self, created: float) -> str:
        second = int(created)
        if second != self._second:  # once a second, not once a line
            moment = datetime.fromtimestamp(second, UTC)
            self._second, self._stamp = second, moment.strftime("%Y-%m-%dT%H:%M:%S")
        return f"{self._stamp}.{int((created - second) * 1000):03d}Z"

    def format(self, record: logging.LogRecord) -> str:
        line: dict[str, Any] = {
            "ts": self._timestamp(record.created),
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": scrub(record.getMessage()),
        }
        request_id = REQUEST_ID.get()
        if request_id is not None:
            line["request_id"] = request_id
        fields = getattr(record, CALL_FIELDS, None)
        if isinstance(fields, dict):
            line.update(fields)
        if record.exc_info:
            line["exc"] = scrub(self.formatException(record.exc_info))
        elif record.exc_text:
            line["exc"] = scrub(record.exc_text)
        return orjson.dumps(line, default=str).decode()


class TextFormatter(logging.Formatter):
    """``time level logger [request id] message key=value…``, secrets masked."""

    def __init__(self) -> None:
        super().__init__("%(asctime)s %(levelname)s %(name)s: %(message)s")

    def format(self, record: logging.LogRecord) -> str:
        text = scrub(super().format(record))
        request_id = REQUEST_ID.get()
        if request_id is not None:
            head, sep, rest = text.partition(": ")
            text = f"{head} [{request_id}]{sep}{rest}"
        fields = getattr(record, CALL_FIELDS, None)
        if isinstance(fields, dict):  # made safe by the observer (relay/observe.py)
            text += " " + " ".join(f"{k}={v}" for k, v in fields.items() if v is not None)
        return text


def configure(level: str, fmt: Literal["text", "json"], call_log: bool = True) -> None:
    """The process's logging: one handler on standard error for every logger, uvicorn's
    included (``relaygate serve`` passes ``log_config=None`` so uvicorn adds none);
    ``call_log`` False silences the per-call lines (logger ``relaygate.calls``)."""
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JSONFormatter() if fmt == "json" else TextFormatter())
    root = logging.getLogger()
    for old in list(root.handlers):
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(level.upper())
    logging.getLogger(CALLS_LOGGER).setLevel(logging.NOTSET if call_log else logging.WARNING)
    # what no line shows: not worth a system call and a thread lookup on every record
    logging.logProcesses = logging.logThreads = logging.logMultiprocessing = False
    for name in ("uvicorn", "uvicorn.error", "uvicorn.access"):
        uvicorn_log = logging.getLogger(name)
        uvicorn_log.handlers.clear()
        uvicorn_log.propagate = True
