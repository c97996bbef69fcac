"""The one masking function for upstream text (DESIGN.md §6).

An upstream's error text is written by someone else and may carry what a client must
never see: the channel's own key (``Incorrect API key provided: sk-…``), other key-like
tokens, the upstream's address (a URL, a host:port, an IP literal) and, for a channel
that serves a public model name under another one, the upstream's model name. Every
upstream text that reaches a client, a log or a usage record goes through :func:`redact`
(or :func:`redact_json`, which keeps a JSON body valid and masks inside its strings).

The patterns are chosen so ordinary text and the ids clients rely on survive: an opaque
token is masked only when it has a long run of mixed letters and digits and no known id
prefix (``chatcmpl-``, ``msg_``, ``resp_``, ``req_``…), so words, model names, UUIDs and
ids stay. Errors are rare, so this costs nothing on a call that succeeds.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import orjson

__all__ = [
    "MASK",
    "NO_SECRETS",
    "Secrets",
    "map_strings",
    "redact",
    "redact_json",
    "redact_value",
]

MASK = "***"
_URL = "[url]"
_HOST = "[host]"

# Vendor key shapes: OpenAI (sk-, sk-proj-, sk-svcacct-), Anthropic (sk-ant-), Google (AIza),
# plus any Bearer credential. A key quoted partly masked by the upstream (sk-abc***wxyz)
# is masked whole.
_KEYS = re.compile(
    r"\bsk-[A-Za-z0-9_\-*.]{12,}"
    r"|\bAIza[0-9A-Za-z_\-]{20,}"
    r"|\b(?:xai|gsk|pk|rk)-[A-Za-z0-9_\-]{16,}"
)
# a credential has a digit in it: "Basic information", "the bearer of bad news" stay
_BEARER = re.compile(r"\b([Bb]earer|Basic)\s+(?=[A-Za-z0-9._~+/=\-]*\d)[A-Za-z0-9._~+/=\-]{8,}")
_URLS = re.compile(r"\b[A-Za-z][A-Za-z0-9+.\-]*://[^\s\"'<>`)\]}]+")
_IPV4 = re.compile(r"(?<![\w.])(?:\d{1,3}\.){3}\d{1,3}(?::\d{1,5})?(?![\w.])")
_IPV6 = re.compile(
    r"\[[0-9A-Fa-f:.]*:[0-9A-Fa-f:.]*\](?::\d{1,5})?"  # bracketed, with or without a port
    r"|(?<![\w:])(?:[0-9A-Fa-f]{1,4}:){7}[0-9A-Fa-f]{1,4}(?![\w:])"  # eight groups
    r"|(?<![\w:])(?:[0-9A-Fa-f]{1,4}(?::[0-9A-Fa-f]{1,4})*)?::"  # compressed (::1, fe80::…)
    r"(?:[0-9A-Fa-f]{1,4}(?::[0-9A-Fa-f]{1,4})*)?(?![\w:])"
)
# an upstream's stack trace (Python's, Java's and Node's frames) ends the text
_TRACE = re.compile(
    r"Traceback \(most recent call last\):.*"
    r"|(?:\n\s*at [\w$.<>]+ ?\(?[^\n]*?:\d+\)?)+",
    re.DOTALL,
)
# A long opaque token: a word of ids' characters with a run of 24+ letters and digits.
_WORD = re.compile(r"[\w\-]{24,}")
_RUN = re.compile(r"[A-Za-z0-9]{24,}")
# Ids that look opaque but are what a client needs to see (OpenAI's and Anthropic's own,
# and Relaygate's, which share the prefixes).
_ID_PREFIX = re.compile(
    r"(?:chatcmpl|cmpl|msg|msgbatch|resp|req|request|call|toolu|srvtoolu|file|batch|run|"
    r"thread|asst|conv|item|rs|fc|ws|evt|ft|ftjob|img|embd|modr|vs|step|ctc|mcp|compl)[-_]"
)


@dataclass(frozen=True, slots=True)
class Secrets:
    """What one channel must keep to itself: its keys and hosts, and its model names
    (upstream name -> the public name the caller asked for)."""

    keys: tuple[str, ...] = ()
    hosts: tuple[str, ...] = ()  # ``host:port`` before ``host``: the longer one first
    models: tuple[tuple[str, str], ...] = ()


NO_SECRETS = Secrets()


def _opaque(match: re.Match[str]) -> str:
    token = match.group(0)
    if _ID_PREFIX.match(token) or not _RUN.search(token):
        return token
    has_digit = any(c.isdigit() for c in token)
    has_letter = any(c.isalpha() for c in token)
    return MASK if has_digit and has_letter else token


def _ipv6(match: re.Match[str]) -> str:
    token = match.group(0)
    return _HOST if any(c in "0123456789abcdefABCDEF" for c in token) else token


def _literal(name: str) -> Callable[[re.Match[str]], str]:
    return lambda _match: name


def redact(text: str, secrets: Secrets = NO_SECRETS) -> str:
    """``text`` without keys, key-like tokens, URLs, hosts and upstream model names."""
    for key in secrets.keys:
        if len(key) >= 4:
            text = text.replace(key, MASK)
    if "Traceback" in text or "\n" in text:
        text = _TRACE.sub("[stack trace]", text)
    text = _URLS.sub(_URL, text)
    for host in secrets.hosts:
        text = text.replace(host, _HOST)
    text = _IPV4.sub(_HOST, text)
    text = _IPV6.sub(_ipv6, text)
    text = _BEARER.sub(r"\1 " + MASK, text)
    text = _KEYS.sub(MASK, text)
    text = _WORD.sub(_opaque, text)
    for upstream, public in secrets.models:  # a dated variant (name-2024-…) goes with it
        if upstream in text:
            pattern = rf"(?<![\w.\-]){re.escape(upstream)}[\w.\-:]*"
            text = re.sub(pattern, _literal(public), text)
    return text


def map_strings(value: Any, change: Callable[[str], str]) -> Any:
    """A parsed JSON value with ``change`` applied to every string in it (keys too)."""
    if isinstance(value, str):
        return change(value)
    if isinstance(value, dict):
        return {change(k): map_strings(v, change) for k, v in value.items()}
    if isinstance(value, list):
        return [map_strings(v, change) for v in value]
    return value


def redact_value(value: Any, secrets: Secrets = NO_SECRETS) -> Any:
    """A parsed JSON value with every string in it (keys of objects too) redacted."""
    return map_strings(value, lambda text: redact(text, secrets))


def redact_json(body: bytes, secrets: Secrets = NO_SECRETS) -> bytes:
    """An upstream body redacted; a JSON body stays JSON of the same shape (only its
    strings change; with nothing to mask, its very bytes), anything else is redacted as
    text."""
    try:
        parsed = orjson.loads(body)
    except orjson.JSONDecodeError:
        return redact(body.decode(errors="replace"), secrets).encode()
    masked = redact_value(parsed, secrets)
    return body if masked == parsed else orjson.dumps(masked)  # untouched: byte for byte
