"""Golden translations of the Responses dialect, each checked against the wire formats.

Requests out are checked as the other dialects' goldens are (the OpenAPI document for
Chat Completions bodies, the anthropic SDK's types for Messages bodies), and each
fixture's own input against ``CreateResponse`` and (history) ``ItemResource``, so a
fixture cannot drift into an invented shape. Every Response and every stream event is
validated against its schema in ../shared/spec and by the openai SDK's models.
"""

from __future__ import annotations

from pathlib import Path

import openai.types.responses
import pytest

from relaygate.relay.dialects.anthropic_messages import convert as messages
from relaygate.relay.dialects.openai_chat import convert as chat
from relaygate.relay.dialects.openai_responses.convert import render_response
from tests.unit.relay.dialects.spec import (
    assert_anthropic_request,
    assert_openai_request,
    openai_errors,
)

from .golden import (
    REPLIES,
    REQUESTS,
    STREAMS,
    StreamCase,
    counter_ids,
    load,
    translate_reply,
    translate_request,
)
from .spec_check import check_response, check_responses


def _id(path: Path) -> str:
    return path.stem


def test_there_are_golden_cases_of_every_kind() -> None:
    assert {load(path)["to"] for path in REQUESTS} == {"openai", "anthropic"}
    assert {load(path)["from"] for path in REPLIES} == {"openai", "anthropic"}
    assert {case.upstream for case in STREAMS} == {"openai", "anthropic"}


@pytest.mark.parametrize("path", REQUESTS, ids=_id)
def test_golden_request(path: Path) -> None:
    fixture = load(path)
    assert path.name.endswith(f".to_{fixture['to']}.json")
    assert translate_request(fixture) == fixture["expected"]


@pytest.mark.parametrize("path", REQUESTS, ids=_id)
def test_golden_request_follows_the_wire_formats(path: Path) -> None:
    fixture = load(path)
    assert openai_errors(fixture["input"], "CreateResponse") == []
    for item in fixture["history"]:
        assert openai_errors(item, "ItemResource") == [], item["id"]
    if fixture["to"] == "openai":
        assert_openai_request(fixture["expected"])
    else:
        assert_anthropic_request(fixture["expected"])


@pytest.mark.parametrize("path", REPLIES, ids=_id)
def test_golden_reply(path: Path) -> None:
    fixture = load(path)
    assert path.name.endswith(f".from_{fixture['from']}.json")
    assert translate_reply(fixture) == fixture["expected"]


@pytest.mark.parametrize("path", REPLIES, ids=_id)
def test_golden_reply_follows_the_spec_and_the_sdk(path: Path) -> None:
    fixture = load(path)
    assert openai_errors(fixture["request"], "CreateResponse") == []
    check_response(fixture["expected"])
    parsed = openai.types.responses.Response.model_validate(fixture["expected"])
    texts = [
        part.text
        for item in parsed.output
        if item.type == "message"
        for part in item.content
        if part.type == "output_text"
    ]
    assert parsed.output_text == "".join(texts) != ""


@pytest.mark.parametrize("path", REPLIES, ids=_id)
def test_render_response_is_the_same_response(path: Path) -> None:
    """The dialect's own entry (a canonical response in) agrees with the pipeline's."""
    fixture = load(path)
    parse = chat.parse_response if fixture["from"] == "openai" else messages.parse_response
    known = fixture["template"]
    rendered = render_response(
        parse(fixture["input"]),
        response_id=known["response_id"],
        model=known["model"],
        created_at=known["created_at"],
        request=fixture["request"],
        previous_response_id=known["previous_response_id"],
        conversation_id=known["conversation_id"],
        ids=counter_ids(),
        clock=lambda: fixture["completed_at"],
    )
    assert rendered == fixture["expected"]


# --- streams ----------------------------------------------------------------------------


@pytest.mark.parametrize("case", STREAMS, ids=str)
def test_whole_stream_matches_the_golden_output(case: StreamCase) -> None:
    assert case.run([case.source()]) == case.expected()


@pytest.mark.parametrize("case", STREAMS, ids=str)
def test_golden_stream_follows_the_spec(case: StreamCase) -> None:
    check_responses(case.expected())


@pytest.mark.parametrize("case", STREAMS, ids=str)
def test_one_byte_at_a_time(case: StreamCase) -> None:
    source = case.source()
    assert case.run([source[i : i + 1] for i in range(len(source))]) == case.expected()


@pytest.mark.parametrize("case", STREAMS, ids=str)
def test_split_at_every_byte_boundary(case: StreamCase) -> None:
    source, expected = case.source(), case.expected()
    for cut in range(0, len(source) + 1, 3):
        assert case.run([source[:cut], source[cut:]]) == expected, f"split at {cut}"


@pytest.mark.parametrize("case", STREAMS, ids=str)
def test_each_feed_returns_whole_events_only(case: StreamCase) -> None:
    source = case.source()
    translator = case.translator()
    for start in range(0, len(source), 7):
        out = translator.feed(source[start : start + 7])
        assert out == b"" or out.endswith(b"\n\n")


@pytest.mark.parametrize("case", STREAMS, ids=str)
def test_the_final_response_is_the_terminal_events(case: StreamCase) -> None:
    """``response`` (what the gateway stores) is exactly what the client was sent."""
    translator = case.translator()
    translator.feed(case.source())
    translator.flush()
    assert translator.finished
    events = check_responses(case.expected())
    assert translator.response == events[-1]["response"]
    assert (translator.error is None) == (events[-1]["type"] != "response.failed")
