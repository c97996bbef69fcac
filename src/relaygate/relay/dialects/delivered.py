"""The text a stream delivered, read from its events whatever their JSON formatting.

A stream cut before its end (the client left, or the gateway stopped it at its hold) is
billed for the output it delivered: the larger of the upstream's own count and an
estimate from the delivered text (``relaygate.core.tokens.estimate_tokens``). The text
is what the model generated: content, reasoning and thinking, refusals, tool-call
arguments; each reader takes it from its dialect's events (a passthrough reader from
the raw bytes with the patterns below, a translator from the canonical deltas), decodes
JSON escapes (``\\u4f60`` is one character, not six), and estimates each batch once, so
the cost stays linear in the stream's length.

The patterns find a key's string value anywhere in a block of events: a JSON key is a
quoted name followed by a colon (a quote inside a string is always escaped, so a
string's content never matches), with any whitespace the upstream's encoder chose.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

import orjson

from relaygate.core.tokens import estimate_tokens
from relaygate.relay.canonical.stream import StreamEvent, TextDelta, ThinkingDelta, ToolArgsDelta

__all__ = [
    "CHAT_TEXT",
    "COMPLETION_TEXT",
    "RESPONSES_DELTA",
    "canonical_text",
    "decoded",
    "estimate_tokens",
]

_STRING = rb'\s*:\s*"([^"\\]*(?:\\.[^"\\]*)*)"'
# Chat Completions chunks: the delta's text, reasoning (DeepSeek/vLLM ``reasoning_content``,
# OpenRouter ``reasoning``), refusal and tool-call argument fragments, of every choice
# (the alternation factored: content, reasoning_content, reasoning, refusal, arguments)
CHAT_TEXT = re.compile(rb'"(?:content|re(?:asoning(?:_content)?|fusal)|arguments)"' + _STRING)
# legacy Completions chunks: each choice's ``text``
COMPLETION_TEXT = re.compile(rb'"text"' + _STRING)
# a Responses ``*.delta`` event's text
RESPONSES_DELTA = re.compile(rb'"delta"' + _STRING)


def decoded(parts: list[bytes]) -> str:
    """The raw JSON string bodies ``parts`` (as the patterns capture them), decoded and
    joined; a malformed one is kept as its bytes read as UTF-8."""
    if not parts:
        return ""
    try:
        return "".join(orjson.loads(b'["' + b'","'.join(parts) + b'"]'))
    except orjson.JSONDecodeError:
        return "".join(_one(part) for part in parts)


def _one(part: bytes) -> str:
    try:
        text = orjson.loads(b'"' + part + b'"')
    except orjson.JSONDecodeError:
        return part.decode(errors="replace")
    return text if isinstance(text, str) else ""


def canonical_text(events: Iterable[StreamEvent]) -> str:
    """The generated text among canonical stream events (what a translator relays)."""
    parts: list[str] = []
    for event in events:
        if isinstance(event, TextDelta):
            parts.append(event.text)
        elif isinstance(event, ThinkingDelta):
            parts.append(event.thinking)
        elif isinstance(event, ToolArgsDelta):
            parts.append(event.partial_json)
    return "".join(parts)
