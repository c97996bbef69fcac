"""Holding a translated answer to the response schema the caller asked to be strict about.

OpenAI's ``strict: true`` promises an answer that validates against the schema. A Claude
channel cannot keep that promise by itself: the schema it is sent has lost its bounds
(``minLength``, ``maximum``, ``pattern``…, moved into descriptions by
``dialects/anthropic_messages/schema.py``) and a recursive schema is only asked for in
the prompt. So a whole answer from a channel of another dialect is checked against the
caller's original schema before the caller sees any of it.

An answer that does not validate is a 502 ``invalid_structured_output``
(:class:`AnswerOffSchema`), raised while nothing has reached the client: the relay then
tries the next channel for the model, as for any broken answer, and the official
OpenAI SDKs retry a 502 by themselves, so a strict caller gets either a valid answer or
a clear error, never invalid JSON presented as valid. A 502 is unbilled, as every failed
call. Answers that are not meant to be the JSON (cut off by the token limit, a refusal,
tool calls) are not checked: OpenAI marks those by ``finish_reason`` / ``refusal`` and
so does the translated answer. Streams are not checked (their text has reached the
client before it is complete); docs/compatibility.md says so.
"""

from __future__ import annotations

from typing import Any

import orjson

from relaygate.core.errors import AnswerOffSchema
from relaygate.relay.dialects import ANTHROPIC, OPENAI, RESPONSES
from relaygate.relay.json_schema import first_error

__all__ = ["check_answer", "strict_schema"]

_ANTHROPIC_DONE = frozenset({"end_turn", "stop_sequence"})


def strict_schema(client: str, payload: dict[str, Any]) -> dict[str, Any] | None:
    """The schema the caller's answer must validate against, when it asked for strict
    structured output (Chat ``response_format``, Responses ``text.format``)."""
    if client == OPENAI:
        fmt = payload.get("response_format")
        spec = fmt.get("json_schema") if isinstance(fmt, dict) else None
    elif client == RESPONSES:
        text = payload.get("text")
        spec = text.get("format") if isinstance(text, dict) else None
        fmt = spec
    else:
        return None
    if not isinstance(fmt, dict) or fmt.get("type") != "json_schema":
        return None
    if not isinstance(spec, dict) or spec.get("strict") is not True:
        return None
    schema = spec.get("schema")
    return schema if isinstance(schema, dict) else {"type": "object"}


def check_answer(upstream: str, answer: dict[str, Any], schema: dict[str, Any]) -> None:
    """Raise :class:`AnswerOffSchema` when ``answer`` (a whole answer in the channel's
    dialect ``upstream``) is a finished JSON answer that breaks ``schema``."""
    text = _final_text(upstream, answer)
    if text is None:
        return
    try:
        value = orjson.loads(text)
    except orjson.JSONDecodeError:
        raise AnswerOffSchema(
            "The model's answer is not valid JSON, so it does not match the requested "
            "response schema (strict)."
        ) from None
    error = first_error(value, schema)
    if error is not None:
        raise AnswerOffSchema(
            f"The model's answer does not match the requested response schema (strict): {error}"
        )


def _final_text(upstream: str, answer: dict[str, Any]) -> str | None:
    """The answer's text when it is a finished text answer; None when it is not one to
    check (cut off, refused, calling tools) or not of a dialect known here."""
    if upstream == ANTHROPIC:
        content = answer.get("content")
        if answer.get("stop_reason") not in _ANTHROPIC_DONE or not isinstance(content, list):
            return None
        blocks = [block for block in content if isinstance(block, dict)]
        if any(block.get("type") == "tool_use" for block in blocks):
            return None
        return "".join(str(b.get("text", "")) for b in blocks if b.get("type") == "text")
    if upstream == OPENAI:
        choices = answer.get("choices")
        first = choices[0] if isinstance(choices, list) and choices else None
        if not isinstance(first, dict) or first.get("finish_reason") != "stop":
            return None
        message = first.get("message")
        if not isinstance(message, dict) or message.get("refusal") or message.get("tool_calls"):
            return None
        content = message.get("content")
        return content if isinstance(content, str) else None
    return None
