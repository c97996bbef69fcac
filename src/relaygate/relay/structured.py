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
from relaygate.relay.dialects.registry import dialect_of
from relaygate.relay.json_schema import first_error

__all__ = ["check_answer", "strict_schema"]


def strict_schema(client: str, payload: dict[str, Any]) -> dict[str, Any] | None:
    """The schema the caller's answer must validate against, when it asked for strict
    structured output (Chat ``response_format``, Responses ``text.format``)."""
    return dialect_of(client).strict_schema(payload)


def check_answer(upstream: str, answer: dict[str, Any], schema: dict[str, Any]) -> None:
    """Raise :class:`AnswerOffSchema` when ``answer`` (a whole answer in the channel's
    dialect ``upstream``) is a finished JSON answer that breaks ``schema``; an answer
    that is not one to check (cut off, refused, calling tools) has no final text."""
    text = dialect_of(upstream).final_text(answer)
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
