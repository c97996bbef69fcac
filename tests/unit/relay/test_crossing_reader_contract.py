"""The members of ``StreamReader`` only some dialects fill (``error``, ``response``,
``final_usage``, ``fail``): every reader the pipeline builds answers them, the wrappers
pass them through, and only a Responses translation has a terminal failure of its own."""

from __future__ import annotations

import pytest

from relaygate.relay.crossing import StreamReader, stream_reader
from tests.unit.relay.dialects.openai_responses.golden import stream_template

PAIRS = [
    ("openai", "openai", False, False),
    ("openai", "openai", False, True),  # a stored chat: Assembling
    ("openai", "anthropic", False, False),
    ("anthropic", "anthropic", False, False),
    ("anthropic", "openai", False, False),
    ("anthropic", "anthropic", True, False),  # the legacy Complete route: _Chain
    ("anthropic", "openai", True, False),
    ("responses", "responses", False, False),
]


def _reader(client: str, upstream: str, legacy: bool, assemble: bool) -> StreamReader:
    return stream_reader(
        client, upstream, model="m", request_id="req_1", include_usage=False, injected=False,
        legacy=legacy, assemble=assemble, template=stream_template(),
    )  # fmt: skip


@pytest.mark.parametrize(("client", "upstream", "legacy", "assemble"), PAIRS)
def test_a_reader_without_those_members_answers_the_neutral_value(
    client: str, upstream: str, legacy: bool, assemble: bool
) -> None:
    reader = _reader(client, upstream, legacy, assemble)
    assert reader.error is None
    assert reader.response is None
    assert reader.final_usage is False
    assert reader.fail("The upstream connection was lost.") is None  # an error frame ends it


@pytest.mark.parametrize("upstream", ["openai", "anthropic"])
def test_a_translated_responses_stream_fails_with_its_own_event_through_the_guard(
    upstream: str,
) -> None:
    reader = _reader("responses", upstream, False, False)
    ending = reader.fail("The upstream connection was lost.")
    assert ending is not None and b"event: response.failed\n" in ending
    assert reader.response is not None and reader.response["status"] == "failed"


def test_an_error_event_of_a_stream_relayed_as_it_came_is_the_stream_error() -> None:
    reader = _reader("openai", "openai", False, False)
    reader.feed(b'data: {"error":{"message":"overloaded","type":"server_error"}}\n\n')
    assert reader.error == "overloaded"


def test_the_last_usage_chunk_passes_through_the_wrappers() -> None:
    reader = _reader("openai", "openai", False, True)
    reader.feed(
        b'data: {"id":"c","choices":[],"usage":{"prompt_tokens":1,"completion_tokens":2}}\n\n'
    )
    assert reader.final_usage is True
