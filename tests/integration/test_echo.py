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


def test_echo_embeddings_float_and_base64_agree(bare_gateway: Gateway) -> None:
    client = bare_gateway.openai(bare_gateway.make_user_key().key)
    as_base64 = client.embeddings.create(model=ECHO, input=["alpha", "beta"])  # SDK: base64
    as_float = client.embeddings.create(
        model=ECHO, input=["alpha", "beta"], encoding_format="float"
    )
    assert len(as_base64.data) == 2 and as_base64.data[0].embedding
    assert as_base64.data[0].embedding != as_base64.data[1].embedding
    for b64, flt in zip(as_base64.data, as_float.data, strict=True):
        # base64 carries float32: equal to the float answer within float32 precision.
        assert b64.embedding == pytest.approx(flt.embedding, rel=1e-6, abs=1e-7)
    assert as_float.usage.prompt_tokens > 0


def test_echo_legacy_completions(bare_gateway: Gateway) -> None:
    client = bare_gateway.openai(bare_gateway.make_user_key().key)
    whole = client.completions.create(model=ECHO, prompt="complete this")
    assert whole.object == "text_completion" and whole.choices[0].text
    assert whole.usage is not None and whole.usage.completion_tokens > 0
    streamed = "".join(
        c.choices[0].text
        for c in client.completions.create(model=ECHO, prompt="complete this", stream=True)
        if c.choices
    )
    assert streamed == whole.choices[0].text
