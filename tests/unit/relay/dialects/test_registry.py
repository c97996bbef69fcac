"""The dialect registry: every channel type and every dialect name has one record, and
translation through the records (``target.render(source.parse(body))``) gives exactly
the golden bodies of tests/fixtures for every pair those fixtures cover."""

from __future__ import annotations

import itertools
import json
from pathlib import Path
from typing import Any, get_args

import pytest

from relaygate.channels.options import ChannelType
from relaygate.channels.spec import ChannelSpec
from relaygate.relay.dialects import DialectName
from relaygate.relay.dialects.openai_chat.capabilities import UNKNOWN
from relaygate.relay.dialects.openai_responses.convert import build_response, response_template
from relaygate.relay.dialects.record import Codec, Dialect, RenderOptions
from relaygate.relay.dialects.registry import (
    ANTHROPIC_MESSAGES,
    OPENAI_CHAT,
    OPENAI_RESPONSES,
    RECORDS,
    dialect_of,
    for_call,
    for_channel,
)

FIXTURES = Path(__file__).resolve().parents[4] / "tests" / "fixtures"
PAIR_CASES = sorted(FIXTURES.glob("*/request_*.json")) + sorted(FIXTURES.glob("*/response_*.json"))
RESPONSES_REQUESTS = sorted((FIXTURES / "openai_responses").glob("req_*.json"))
RESPONSES_REPLIES = sorted((FIXTURES / "openai_responses").glob("reply_*.json"))
DEFAULT_MAX_TOKENS = 4096


def _load(path: Path) -> dict[str, Any]:
    fixture: dict[str, Any] = json.loads(path.read_text())
    return fixture


def _codec(name: str) -> Codec:
    return dialect_of(name).codec()


def _render(target: str, request: Any) -> dict[str, Any]:
    render = _codec(target).render_request
    assert render is not None
    return render(request, RenderOptions(DEFAULT_MAX_TOKENS, UNKNOWN))


def _channel(channel_type: str, *, responses_api: bool) -> ChannelSpec:
    return ChannelSpec(
        id=1,
        name="c",
        type=channel_type,
        base_url="http://upstream.test",
        api_key="k",
        models={"m": "m"},
        responses_api=responses_api,
    )


def test_every_channel_type_speaks_a_dialect_with_a_record() -> None:
    for channel_type in get_args(ChannelType):
        assert for_channel(channel_type) in RECORDS.values()
    assert for_channel("anthropic") is ANTHROPIC_MESSAGES
    assert for_channel("azure_openai") is OPENAI_CHAT
    assert for_channel("something-new") is OPENAI_CHAT  # OpenAI-compatible by default


def test_every_dialect_name_has_its_record_under_that_name() -> None:
    assert set(RECORDS) == set(DialectName)
    for name in DialectName:
        record = dialect_of(name)
        assert isinstance(record, Dialect) and record.name is name
        assert dialect_of(name.value) is record  # the plain string finds it too
    with pytest.raises(ValueError, match="unknown dialect"):
        dialect_of("gemini")


def test_a_responses_caller_reaches_a_native_responses_channel_only_when_it_has_the_api() -> None:
    native = _channel("openai", responses_api=True)
    chat = _channel("openai", responses_api=False)
    claude = _channel("anthropic", responses_api=False)
    assert for_call(native, DialectName.RESPONSES) is OPENAI_RESPONSES
    assert for_call(native, DialectName.OPENAI) is OPENAI_CHAT
    assert for_call(chat, DialectName.RESPONSES) is OPENAI_CHAT
    assert for_call(claude, DialectName.RESPONSES) is ANTHROPIC_MESSAGES


def test_each_translated_call_has_an_endpoint_on_the_channel_it_crosses_to() -> None:
    for upstream in RECORDS.values():
        for (client, _), endpoint in upstream.carries.items():
            assert client != upstream.name
            assert _codec(upstream.name).render_request is not None, endpoint
            assert _codec(client).parse_request is not None


@pytest.mark.parametrize("path", PAIR_CASES, ids=lambda p: f"{p.parent.name}/{p.stem}")
def test_target_render_of_source_parse_is_the_golden_body(path: Path) -> None:
    fixture = _load(path)
    source, target = _codec(fixture["from"]), fixture["to"]
    if fixture["kind"] == "request":
        out = _render(target, source.parse_request(fixture["input"], []))
    else:
        assert source.parse_response is not None
        response = source.parse_response(fixture["input"])
        response.model = fixture["model"]
        out = _codec(target).render_response(response, None)
        out.pop("created", None)  # the one field that cannot be golden
    expected = dict(fixture["expected"])
    expected.pop("created", None)
    assert out == expected


@pytest.mark.parametrize("path", RESPONSES_REQUESTS, ids=lambda p: p.stem)
def test_a_responses_turn_renders_through_the_channels_codec(path: Path) -> None:
    fixture = _load(path)
    request = OPENAI_RESPONSES.codec().parse_request(fixture["input"], fixture["history"])
    assert _render(fixture["to"], request) == fixture["expected"]


@pytest.mark.parametrize("path", RESPONSES_REPLIES, ids=lambda p: p.stem)
def test_a_channels_answer_renders_as_the_golden_response(path: Path) -> None:
    fixture = _load(path)
    known = fixture["template"]
    template = response_template(
        fixture["request"],
        response_id=known["response_id"],
        model=known["model"],
        created_at=known["created_at"],
        previous_response_id=known["previous_response_id"],
        conversation_id=known["conversation_id"],
    )
    parse = _codec(fixture["from"]).parse_response
    assert parse is not None
    counter = itertools.count(1)
    out = build_response(
        template,
        parse(fixture["input"]),
        ids=lambda prefix: f"{prefix}_{next(counter):04d}",
        clock=lambda: fixture["completed_at"],
    )
    assert out == fixture["expected"]


def test_a_responses_channel_is_never_translated_into() -> None:
    codec = OPENAI_RESPONSES.codec()
    assert codec.render_request is None and codec.parse_response is None
    assert OPENAI_RESPONSES.carries == {}
