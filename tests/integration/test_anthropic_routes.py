"""The Anthropic API through the gateway, driven by the official ``anthropic`` SDK.

On an Anthropic channel the call is passed through (and metered from Anthropic's usage
fields); on an OpenAI-compatible channel it is translated both ways. Both databases.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from typing import Any

import anthropic
import httpx
import pytest

from tests.fakes.anthropic_upstream import Behaviour, FakeAnthropic
from tests.fakes.openai_upstream import Behaviour as OpenAIBehaviour
from tests.fakes.openai_upstream import FakeOpenAI
from tests.harness import Gateway
from tests.integration.test_money import books, record_of

MESSAGES = [{"role": "user", "content": "Hello there"}]


@pytest.fixture
def fake_anthropic() -> Iterator[FakeAnthropic]:
    with FakeAnthropic() as fake:
        yield fake


def anthropic_model(gw: Gateway, fake: FakeAnthropic, **price: Any) -> str:
    model = f"claude-test-{uuid.uuid4().hex[:8]}"
    gw.add_channel(fake, models=[model], type="anthropic", base_url=fake.url)
    if price:
        gw.op("PUT", f"/models/{model}", json=price)
    return model


def openai_model(gw: Gateway, fake: FakeOpenAI, **price: Any) -> str:
    model = f"gpt-test-{uuid.uuid4().hex[:8]}"
    gw.add_channel(fake, models=[model])
    if price:
        gw.op("PUT", f"/models/{model}", json=price)
    return model


def client(gw: Gateway, key: str, prefix: str = "") -> anthropic.Anthropic:
    return anthropic.Anthropic(base_url=gw.url + prefix, api_key=key, max_retries=0)


def test_passthrough_non_stream_meters_cache_tokens(
    gateway: Gateway, fake_anthropic: FakeAnthropic
) -> None:
    model = anthropic_model(
        gateway, fake_anthropic, input="3.00", output="15.00", cached_input="0.30",
        cache_write="3.75",
    )  # fmt: skip
    key = gateway.make_user_key()
    fake_anthropic.script(
        model,
        Behaviour(
            text="Hi from Claude",
            input_tokens=100,
            output_tokens=20,
            cache_read_input_tokens=1000,
            cache_creation_input_tokens=200,
        ),  # fmt: skip
    )
    raw = client(gateway, key.key).messages.with_raw_response.create(
        model=model, max_tokens=100, messages=MESSAGES,
        extra_headers={"anthropic-beta": "context-management-2025-06-27"},
    )  # fmt: skip
    message = raw.parse()
    assert message.content[0].type == "text" and message.content[0].text == "Hi from Claude"
    assert message.usage.cache_read_input_tokens == 1000
    upstream = fake_anthropic.requests[-1]
    assert (
        upstream.header(
            "x-api-key",
        )
        is not None
        and upstream.header("x-api-key") != key.key
    )
    assert upstream.header("anthropic-beta") == "context-management-2025-06-27"
    assert upstream.path == "/v1/messages"
    rid = raw.headers["request-id"]
    record = gateway.wait_for_usage(rid)
    assert record["prompt_tokens"] == 1300 and record["completion_tokens"] == 20
    assert record["cached_tokens"] == 1000
    # 100 x 3 + 1000 x 0.30 + 200 x 3.75 + 20 x 15 = 1650 micro-units per million... x1e-6
    assert record["official_cost"] == 300 + 300 + 750 + 300
    books(gateway, key.user_id)


def test_passthrough_stream_with_thinking_and_tool_use(
    gateway: Gateway, fake_anthropic: FakeAnthropic
) -> None:
    model = anthropic_model(gateway, fake_anthropic)
    key = gateway.make_user_key()
    fake_anthropic.script(
        model,
        Behaviour(
            thinking="Let me think.",
            text="Reading it.",
            tool_uses=[{"name": "Read", "input": {"file_path": "/tmp/x.txt"}}],
            input_tokens=50,
            output_tokens=30,
        ),  # fmt: skip
    )
    with client(gateway, key.key).messages.stream(
        model=model, max_tokens=1000, messages=MESSAGES,
        tools=[{"name": "Read", "description": "read a file", "input_schema": {"type": "object"}}],
    ) as stream:  # fmt: skip
        final = stream.get_final_message()
    kinds = [block.type for block in final.content]
    assert kinds == ["thinking", "text", "tool_use"]
    assert final.content[0].signature  # type: ignore[union-attr]
    assert final.content[2].input == {"file_path": "/tmp/x.txt"}  # type: ignore[union-attr]
    assert final.stop_reason == "tool_use"
    records = gateway.usage(user_id=key.user_id)
    assert records[0]["prompt_tokens"] == 50 and records[0]["completion_tokens"] == 30
    assert records[0]["status"] == 200 and records[0]["stream"] is True


def test_messages_on_openai_channel_are_translated(gateway: Gateway, fake: FakeOpenAI) -> None:
    model = openai_model(gateway, fake, input="1.00", output="2.00")
    key = gateway.make_user_key()
    fake.script(
        model, OpenAIBehaviour(text="Translated hello", prompt_tokens=40, completion_tokens=5)
    )
    message = client(gateway, key.key).messages.create(
        model=model, max_tokens=256, system="Be brief.", messages=MESSAGES
    )
    assert [b.text for b in message.content if b.type == "text"] == ["Translated hello"]
    assert message.model == model and message.stop_reason == "end_turn"
    assert message.usage.input_tokens == 40 and message.usage.output_tokens == 5
    sent = fake.requests[-1]
    assert sent.path.endswith("/chat/completions")
    assert sent.body["messages"][0] == {"role": "system", "content": "Be brief."}
    assert sent.body["max_tokens"] == 256
    record = gateway.usage(user_id=key.user_id)[0]
    assert record["official_cost"] == 40 * 1 + 5 * 2
    books(gateway, key.user_id)


def test_stream_on_openai_channel_is_translated(gateway: Gateway, fake: FakeOpenAI) -> None:
    model = openai_model(gateway, fake)
    key = gateway.make_user_key()
    fake.script(model, OpenAIBehaviour(text="one two three", prompt_tokens=9, completion_tokens=3))
    with client(gateway, key.key).messages.stream(
        model=model, max_tokens=64, messages=MESSAGES
    ) as stream:
        text = "".join(stream.text_stream)
        final = stream.get_final_message()
    assert text == "one two three"
    assert final.usage.output_tokens == 3
    assert fake.requests[-1].body["stream_options"] == {"include_usage": True}
    record = gateway.usage(user_id=key.user_id)[0]
    assert record["prompt_tokens"] == 9 and record["completion_tokens"] == 3
    assert record["usage_estimated"] is False


def test_openai_chat_on_anthropic_channel(gateway: Gateway, fake_anthropic: FakeAnthropic) -> None:
    model = anthropic_model(gateway, fake_anthropic)
    key = gateway.make_user_key()
    fake_anthropic.script(
        model, Behaviour(text="Claude via OpenAI", input_tokens=7, output_tokens=4)
    )
    with gateway.http(key.key) as http:
        response = http.post(
            "/v1/chat/completions",
            json={"model": model, "messages": [{"role": "system", "content": "sys"}, *MESSAGES]},
        )
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["object"] == "chat.completion"
    assert body["choices"][0]["message"]["content"] == "Claude via OpenAI"
    assert body["usage"]["prompt_tokens"] == 7 and body["usage"]["completion_tokens"] == 4
    sent = fake_anthropic.requests[-1]
    assert sent.path == "/v1/messages" and sent.body["system"][0]["text"] == "sys"


def test_count_tokens_upstream_and_local(
    gateway: Gateway, fake_anthropic: FakeAnthropic, fake: FakeOpenAI
) -> None:
    claude = anthropic_model(gateway, fake_anthropic)
    gpt = openai_model(gateway, fake)
    key = gateway.make_user_key()
    fake_anthropic.script(claude, Behaviour(count_tokens=4242))
    sdk = client(gateway, key.key)
    assert sdk.messages.count_tokens(model=claude, messages=MESSAGES).input_tokens == 4242
    local = sdk.messages.count_tokens(model=gpt, messages=MESSAGES).input_tokens
    assert 0 < local < 50
    assert not [r for r in fake.requests if r.body and r.body.get("model") == gpt]


def test_errors_are_in_anthropic_shape(gateway: Gateway, fake_anthropic: FakeAnthropic) -> None:
    model = anthropic_model(gateway, fake_anthropic)
    key = gateway.make_user_key()
    with pytest.raises(anthropic.AuthenticationError) as auth:
        client(gateway, "sk-wrong").messages.create(model=model, max_tokens=5, messages=MESSAGES)
    assert auth.value.body["type"] == "error"  # type: ignore[index]
    with httpx.Client(base_url=gateway.url) as http:
        bad = http.post(
            "/v1/messages", headers={"x-api-key": key.key, "anthropic-version": "2023-06-01"},
            json={"model": model, "messages": MESSAGES},
        )  # fmt: skip
    assert bad.status_code == 400
    assert bad.json()["error"]["type"] == "invalid_request_error"
    assert "max_tokens" in bad.json()["error"]["message"]
    fake_anthropic.script(model, Behaviour(status=529))
    with pytest.raises(anthropic.APIStatusError) as overloaded:
        client(gateway, key.key).messages.create(model=model, max_tokens=5, messages=MESSAGES)
    assert overloaded.value.status_code == 529
    assert overloaded.value.body["error"]["type"] == "overloaded_error"  # type: ignore[index]
    assert "fake" not in str(overloaded.value.body)


def test_models_in_anthropic_shape(gateway: Gateway, fake_anthropic: FakeAnthropic) -> None:
    model = anthropic_model(gateway, fake_anthropic)
    key = gateway.make_user_key()
    listed = [m.id for m in client(gateway, key.key).models.list(limit=1000)]
    assert model in listed
    one = client(gateway, key.key).models.retrieve(model)
    assert one.id == model and one.type == "model"
    with gateway.http(key.key) as http:
        plain = http.get("/v1/models").json()
    assert plain["object"] == "list"


def test_cc_omg_route_bills_with_route_multiplier(
    gateway: Gateway, fake_anthropic: FakeAnthropic
) -> None:
    model = anthropic_model(gateway, fake_anthropic, input="10.00", output="10.00")
    key = gateway.make_user_key()
    fake_anthropic.script(model, Behaviour(input_tokens=1000, output_tokens=1000))
    sdk = client(gateway, key.key, "/api/v1/ai/openai/cc-omg")
    raw = sdk.messages.with_raw_response.create(model=model, max_tokens=2000, messages=MESSAGES)
    assert raw.parse().usage.output_tokens == 1000
    record = record_of_id(gateway, raw.headers["request-id"])
    assert record["official_cost"] == 20_000
    assert record["amount"] == 4_000  # x 0.2
    books(gateway, key.user_id)


def record_of_id(gw: Gateway, request_id: str) -> dict[str, Any]:
    return gw.wait_for_usage(request_id)


def test_legacy_complete(gateway: Gateway, fake_anthropic: FakeAnthropic) -> None:
    model = anthropic_model(gateway, fake_anthropic)
    key = gateway.make_user_key()
    fake_anthropic.script(model, Behaviour(text="Old school"))
    with gateway.http(key.key) as http:
        response = http.post(
            "/v1/complete",
            json={
                "model": model,
                "prompt": "\n\nHuman: hi\n\nAssistant:",
                "max_tokens_to_sample": 9,
            },
        )
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["type"] == "completion" and body["completion"] == "Old school"
    assert fake_anthropic.requests[-1].path == "/v1/messages"


__all__ = ["record_of"]


def test_echo_model_answers_the_anthropic_sdk(gateway: Gateway) -> None:
    """The built-in model needs no upstream key, in either dialect (make run's promise)."""
    key = gateway.make_user_key()
    sdk = client(gateway, key.key)
    message = sdk.messages.create(model="relaygate-echo", max_tokens=50, messages=MESSAGES)
    text = "".join(b.text for b in message.content if b.type == "text")
    assert "Hello there" in text
    with sdk.messages.stream(model="relaygate-echo", max_tokens=50, messages=MESSAGES) as stream:
        streamed = "".join(stream.text_stream)
        final = stream.get_final_message()
    assert streamed == text
    assert final.usage.output_tokens > 0
