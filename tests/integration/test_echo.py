"""The built-in ``relaygate-echo`` model: works with no channel configured."""

from __future__ import annotations

from collections.abc import Callable

import openai
import pytest

from tests.harness import Gateway
from tests.integration.assertions import assert_openai_error

ECHO = "relaygate-echo"


def _messages(text: str) -> list[dict[str, str]]:
    return [
        {"role": "system", "content": "be brief"},
        {"role": "user", "content": "an earlier question"},
        {"role": "assistant", "content": "an earlier answer"},
        {"role": "user", "content": text},
    ]


@pytest.fixture
def bare_gateway(gateway_factory: Callable[..., Gateway]) -> Gateway:
    """A fresh gateway with no channel at all."""
    gw = gateway_factory()
    assert all(c["type"] == "echo" for c in gw.op("GET", "/channels"))
    return gw


def test_echo_non_stream_is_deterministic(bare_gateway: Gateway) -> None:
    client = bare_gateway.openai(bare_gateway.make_user_key().key)
    first = client.chat.completions.create(model=ECHO, messages=_messages("ping number 42"))
    again = client.chat.completions.create(model=ECHO, messages=_messages("ping number 42"))
    other = client.chat.completions.create(model=ECHO, messages=_messages("something else"))
    reply = first.choices[0].message.content
    assert reply and reply == again.choices[0].message.content
    assert reply != other.choices[0].message.content
    assert first.choices[0].message.role == "assistant"
    assert first.choices[0].finish_reason == "stop"
    assert first.usage is not None
    assert first.usage.prompt_tokens > 0 and first.usage.completion_tokens > 0
    assert first.usage.total_tokens == first.usage.prompt_tokens + first.usage.completion_tokens


def test_echo_reply_derives_from_last_user_message(bare_gateway: Gateway) -> None:
    client = bare_gateway.openai(bare_gateway.make_user_key().key)
    reply = (
        client.chat.completions.create(model=ECHO, messages=_messages("zebra crossing"))
        .choices[0]
        .message.content
    )
    assert reply is not None and "zebra crossing" in reply
    assert "earlier question" not in reply


def test_echo_stream_matches_non_stream(bare_gateway: Gateway) -> None:
    client = bare_gateway.openai(bare_gateway.make_user_key().key)
    whole = client.chat.completions.create(model=ECHO, messages=_messages("stream me please"))
    chunks = list(
        client.chat.completions.create(
            model=ECHO,
            messages=_messages("stream me please"),
            stream=True,
            stream_options={"include_usage": True},
        )
    )
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert text == whole.choices[0].message.content
    assert chunks[-1].choices == []
    usage = chunks[-1].usage
    assert usage is not None and usage.prompt_tokens > 0 and usage.completion_tokens > 0
    finishes = [c.choices[0].finish_reason for c in chunks if c.choices]
    assert finishes[-1] == "stop"


def test_echo_usage_record(bare_gateway: Gateway) -> None:
    key = bare_gateway.make_user_key()
    raw = bare_gateway.openai(key.key).chat.completions.with_raw_response.create(
        model=ECHO, messages=_messages("count me")
    )
    record = bare_gateway.wait_for_usage(raw.headers["x-request-id"])
    assert record["model"] == ECHO and record["status"] == 200
    assert record["prompt_tokens"] > 0 and record["completion_tokens"] > 0
    assert record["key_id"] == key.id


def test_echo_listed_in_models(bare_gateway: Gateway) -> None:
    client = bare_gateway.openai(bare_gateway.make_user_key().key)
    assert ECHO in {m.id for m in client.models.list()}


def test_echo_can_be_disabled(gateway_factory: Callable[..., Gateway]) -> None:
    gw = gateway_factory(echo_channel=False)
    client = gw.openai(gw.make_user_key().key)
    with pytest.raises(openai.NotFoundError) as info:
        client.chat.completions.create(model=ECHO, messages=_messages("hi"))
    assert_openai_error(info.value.response, 404, "model_not_found")
