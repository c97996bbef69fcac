"""The golden cases of the Responses dialect and how each one is run.

``tests/fixtures/openai_responses/`` holds:

* ``req_<case>.to_<target>.json``: a Responses request (and the stored history it
  continues) and the exact Chat Completions or Messages body sent upstream;
* ``reply_<case>.from_<source>.json``: an upstream's complete answer and the exact
  ``Response`` the client gets;
* ``stream_<case>.from_<upstream>.sse``: the exact Responses stream for a recorded
  upstream stream (the other dialects' recordings in ``openai_chat/`` and
  ``anthropic_messages/``, and ``upstream_<case>.<dialect>.sse`` here), all answering
  ``stream_request.json``.

Ids come from a counter and the clock is fixed, so every output is exact.
"""

from __future__ import annotations

import itertools
import json
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from relaygate.relay.dialects.openai_responses.stream import ResponsesTranslator
from relaygate.relay.translate_responses import (
    response_template,
    responses_reply_from,
    responses_request_to,
)

FIXTURES = Path(__file__).resolve().parents[4] / "fixtures"
HERE = FIXTURES / "openai_responses"
DEFAULT_MAX_TOKENS = 4096


def counter_ids() -> Callable[[str], str]:
    counter = itertools.count(1)
    return lambda prefix: f"{prefix}_{next(counter):04d}"


def load(path: Path) -> dict[str, Any]:
    fixture: dict[str, Any] = json.loads(path.read_text())
    return fixture


def translate_request(fixture: dict[str, Any]) -> dict[str, Any]:
    return responses_request_to(
        fixture["to"], fixture["input"], fixture["history"], default_max_tokens=DEFAULT_MAX_TOKENS
    )


def template_of(fixture: dict[str, Any]) -> dict[str, Any]:
    known = fixture["template"]
    return response_template(
        fixture["request"],
        response_id=known["response_id"],
        model=known["model"],
        created_at=known["created_at"],
        previous_response_id=known["previous_response_id"],
        conversation_id=known["conversation_id"],
    )


def translate_reply(fixture: dict[str, Any]) -> dict[str, Any]:
    return responses_reply_from(
        fixture["from"],
        fixture["input"],
        response_template=template_of(fixture),
        ids=counter_ids(),
        clock=lambda: fixture["completed_at"],
    )


STREAM_COMPLETED_AT = 1764000005


def stream_template() -> dict[str, Any]:
    """The Response template of ``stream_request.json``, which every stream answers."""
    setup = load(HERE / "stream_request.json")
    assert setup["completed_at"] == STREAM_COMPLETED_AT
    return response_template(
        setup["request"],
        response_id=setup["response_id"],
        model=setup["model"],
        created_at=setup["created_at"],
        previous_response_id=None,
        conversation_id=None,
    )


@dataclass(frozen=True)
class StreamCase:
    upstream: str
    source_path: Path

    @property
    def name(self) -> str:
        stem = self.source_path.name.split(".")[0]
        return stem.removeprefix("stream_").removeprefix("upstream_")

    def source(self) -> bytes:
        return self.source_path.read_bytes()

    @property
    def expected_path(self) -> Path:
        return HERE / f"stream_{self.name}.from_{self.upstream}.sse"

    def expected(self) -> bytes:
        return self.expected_path.read_bytes()

    def translator(self) -> ResponsesTranslator:
        return ResponsesTranslator(
            self.upstream,
            response_template=stream_template(),
            ids=counter_ids(),
            clock=lambda: STREAM_COMPLETED_AT,
        )

    def run(self, pieces: list[bytes]) -> bytes:
        translator = self.translator()
        return b"".join(translator.feed(piece) for piece in pieces) + translator.flush()

    def __str__(self) -> str:
        return f"{self.upstream}:{self.name}"


STREAMS = [
    StreamCase("openai", FIXTURES / "openai_chat" / "stream_tools.sse"),
    StreamCase("openai", FIXTURES / "openai_chat" / "stream_deepseek_reasoning.sse"),
    StreamCase("openai", FIXTURES / "openai_chat" / "stream_no_done.sse"),
    StreamCase("openai", FIXTURES / "openai_chat" / "stream_error.sse"),
    StreamCase("openai", HERE / "upstream_interleaved.openai.sse"),
    StreamCase("anthropic", FIXTURES / "anthropic_messages" / "stream_thinking_tools.sse"),
    StreamCase("anthropic", FIXTURES / "anthropic_messages" / "stream_server_tools.sse"),
    StreamCase("anthropic", FIXTURES / "anthropic_messages" / "stream_error.sse"),
    StreamCase("anthropic", HERE / "upstream_citations.anthropic.sse"),
]
REQUESTS = sorted(HERE.glob("req_*.json"))
REPLIES = sorted(HERE.glob("reply_*.json"))
