"""The Responses API through the gateway with the official ``openai`` SDK.

Relaygate keeps every response itself, so a ``previous_response_id`` chain continues on a
channel that has no Responses API at all (Chat Completions or Claude), and a
conversation collects each turn's items. Both databases.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from typing import Any

import openai
import pytest

from tests.fakes.anthropic_upstream import Behaviour as ClaudeBehaviour
from tests.fakes.anthropic_upstream import FakeAnthropic
from tests.fakes.openai_upstream import Behaviour, FakeOpenAI
from tests.fakes.responses_upstream import FakeOpenAIResponses
from tests.harness import Gateway
from tests.integration.test_money import books


@pytest.fixture
def claude() -> Iterator[FakeAnthropic]:
    with FakeAnthropic() as fake:
        yield fake


def _gpt(gw: Gateway, fake: FakeOpenAI, **price: Any) -> str:
    model = f"gpt-resp-{uuid.uuid4().hex[:8]}"
    gw.add_channel(fake, models=[model])
    if price:
        gw.op("PUT", f"/models/{model}", json=price)
    return model


def _claude(gw: Gateway, fake: FakeAnthropic) -> str:
    model = f"claude-resp-{uuid.uuid4().hex[:8]}"
    gw.add_channel(fake, models=[model], type="anthropic", base_url=fake.url)
    return model


def _sdk(gw: Gateway, key: str, prefix: str = "") -> openai.OpenAI:
    return openai.OpenAI(base_url=gw.url + prefix + "/v1", api_key=key, max_retries=0)


def test_create_retrieve_and_input_items(gateway: Gateway, fake: FakeOpenAI) -> None:
    model = _gpt(gateway, fake, input="1.00", output="2.00")
    key = gateway.make_user_key()
    fake.script(model, Behaviour(text="Hi from chat", prompt_tokens=30, completion_tokens=4))
    sdk = _sdk(gateway, key.key)
    response = sdk.responses.create(model=model, input="Hello?", instructions="Be brief.")
    assert response.output_text == "Hi from chat"
    assert response.status == "completed" and response.id.startswith("resp_")
    assert response.usage is not None and response.usage.input_tokens == 30
    sent = fake.requests[-1].body
    assert sent["messages"][0] == {"role": "system", "content": "Be brief."}
    stored = sdk.responses.retrieve(response.id)
    assert stored.output_text == "Hi from chat"
    items = sdk.responses.input_items.list(response.id)
    assert [item.type for item in items.data] == ["message"]
    record = gateway.usage(user_id=key.user_id)[0]
    assert record["endpoint"] == "responses" and record["official_cost"] == 30 + 8
    books(gateway, key.user_id)


def test_chain_continues_on_claude(
    gateway: Gateway, fake: FakeOpenAI, claude: FakeAnthropic
) -> None:
    """A chain started on a chat channel continues on Claude: the history is ours."""
    gpt, sonnet = _gpt(gateway, fake), _claude(gateway, claude)
    key = gateway.make_user_key()
    fake.script(gpt, Behaviour(text="My name is Chat."))
    claude.script(sonnet, ClaudeBehaviour(text="You asked my name."))
    sdk = _sdk(gateway, key.key)
    first = sdk.responses.create(model=gpt, input="What is your name?")
    second = sdk.responses.create(
        model=sonnet, input="What did I ask?", previous_response_id=first.id
    )
    assert second.output_text == "You asked my name."
    messages = claude.requests[-1].body["messages"]
    assert messages[0]["role"] == "user" and "your name" in str(messages[0]["content"])
    assert messages[1]["role"] == "assistant" and "My name is Chat." in str(messages[1]["content"])
    assert messages[2]["role"] == "user"
    with pytest.raises(openai.NotFoundError):
        sdk.responses.create(model=gpt, input="x", previous_response_id="resp_missing")
    other = _sdk(gateway, gateway.make_user_key().key)
    with pytest.raises(openai.NotFoundError):
        other.responses.retrieve(first.id)


def test_stream_reaches_completed(gateway: Gateway, claude: FakeAnthropic) -> None:
    model = _claude(gateway, claude)
    key = gateway.make_user_key()
    claude.script(
        model, ClaudeBehaviour(text="streamed words here", input_tokens=12, output_tokens=3)
    )
    sdk = _sdk(gateway, key.key)
    with sdk.responses.stream(model=model, input="Say something") as stream:
        deltas = [e.delta for e in stream if e.type == "response.output_text.delta"]
        final = stream.get_final_response()
    assert "".join(deltas) == "streamed words here" == final.output_text
    assert final.usage is not None and final.usage.output_tokens == 3
    assert sdk.responses.retrieve(final.id).output_text == "streamed words here"
    record = gateway.usage(user_id=key.user_id)[0]
    assert record["stream"] is True and record["completion_tokens"] == 3


def test_conversation_collects_turns(gateway: Gateway, fake: FakeOpenAI) -> None:
    model = _gpt(gateway, fake)
    key = gateway.make_user_key()
    sdk = _sdk(gateway, key.key)
    conversation = sdk.conversations.create()
    fake.script(model, Behaviour(text="first answer"))
    sdk.responses.create(model=model, input="first", conversation=conversation.id)
    fake.script(model, Behaviour(text="second answer"))
    sdk.responses.create(model=model, input="second", conversation=conversation.id, store=False)
    items = sdk.conversations.items.list(conversation.id, order="asc")
    texts = [part.text for item in items.data for part in item.content]  # type: ignore[union-attr]
    assert texts == ["first", "first answer", "second", "second answer"]
    assert [m["content"] for m in fake.requests[-1].body["messages"]][:2] == [
        "first",
        "first answer",
    ]


def test_stored_chat_completion(gateway: Gateway, fake: FakeOpenAI) -> None:
    model = _gpt(gateway, fake)
    key = gateway.make_user_key()
    sdk = _sdk(gateway, key.key)
    completion = sdk.chat.completions.create(
        model=model, messages=[{"role": "user", "content": "keep me"}], store=True,
        metadata={"topic": "test"},
    )  # fmt: skip
    listed = sdk.chat.completions.list(metadata={"topic": "test"})
    assert [c.id for c in listed.data] == [completion.id]
    assert sdk.chat.completions.retrieve(completion.id).choices[0].message.content


def test_codex_route_bills_with_route_multiplier(gateway: Gateway, fake: FakeOpenAI) -> None:
    model = _gpt(gateway, fake, input="10.00", output="10.00")
    key = gateway.make_user_key()
    fake.script(model, Behaviour(prompt_tokens=1000, completion_tokens=1000))
    sdk = _sdk(gateway, key.key, "/api/v1/ai/openai/codex-omg")
    sdk.responses.create(model=model, input="hi")
    record = gateway.usage(user_id=key.user_id)[0]
    assert record["official_cost"] == 20_000 and record["amount"] == 4_000



def test_native_responses_channel_is_relayed_with_our_history(
    gateway: Gateway, fake: FakeOpenAI, native: FakeOpenAIResponses
) -> None:
    """A channel with ``responses_api`` gets the Responses call itself; the chain (begun on
    a chat channel, whose ids it never saw) travels as input items, and Relaygate keeps
    the answer so the chain goes on."""
    chat = _gpt(gateway, fake)
    model = f"gpt-native-{uuid.uuid4().hex[:8]}"
    gateway.add_channel(native, models=[model], options={"responses_api": True})
    key = gateway.make_user_key()
    sdk = _sdk(gateway, key.key)
    fake.script(chat, Behaviour(text="chat said this"))
    first = sdk.responses.create(model=chat, input="start")
    native.script(model, Behaviour(text="native answer", prompt_tokens=21, completion_tokens=2))
    second = sdk.responses.create(model=model, input="go on", previous_response_id=first.id)
    assert second.output_text == "native answer"
    sent = native.requests[-1]
    assert sent.path == "/v1/responses" and "previous_response_id" not in sent.body
    texts = [str(item.get("content")) for item in sent.body["input"]]
    assert "start" in texts[0] and "chat said this" in texts[1] and "go on" in texts[2]
    assert sdk.responses.retrieve(second.id).previous_response_id == first.id
    native.script(model, Behaviour(text="streamed natively", prompt_tokens=5, completion_tokens=2))
    with sdk.responses.stream(model=model, input="more", previous_response_id=second.id) as stream:
        final = stream.get_final_response()
    assert final.output_text == "streamed natively"
    assert len(native.requests[-1].body["input"]) == 5
    third = sdk.responses.retrieve(final.id)
    assert third.previous_response_id == second.id
    records = gateway.usage(user_id=key.user_id)
    assert [r["prompt_tokens"] for r in records[:2]] == [5, 21]


def test_channel_output_cap_applies_to_translated_calls(gateway: Gateway, fake: FakeOpenAI) -> None:
    """Claude Code asks for 32,000+ output tokens; a channel whose models take fewer caps
    the translated call instead of letting the upstream refuse it."""
    model = f"deepseek-cap-{uuid.uuid4().hex[:8]}"
    gateway.add_channel(fake, models=[model], options={"max_output_tokens": 8192})
    key = gateway.make_user_key()
    with gateway.http(key.key) as http:
        translated = http.post(
            "/v1/messages",
            json={
                "model": model,
                "max_tokens": 32000,
                "messages": [{"role": "user", "content": "x"}],
            },
        )
        assert translated.status_code == 200, translated.text
        assert fake.requests[-1].body["max_tokens"] == 8192
        same = http.post(
            "/v1/chat/completions",
            json={
                "model": model,
                "max_tokens": 32000,
                "messages": [{"role": "user", "content": "x"}],
            },
        )
        assert same.status_code == 200
        assert fake.requests[-1].body["max_tokens"] == 32000  # relayed as sent


def test_stored_chat_completion_from_a_stream(gateway: Gateway, fake: FakeOpenAI) -> None:
    """A streamed ``store: true`` completion is kept whole, as OpenAI keeps it."""
    model = _gpt(gateway, fake)
    key = gateway.make_user_key()
    sdk = _sdk(gateway, key.key)
    fake.script(model, Behaviour(text="kept from a stream", prompt_tokens=8, completion_tokens=4))
    stream = sdk.chat.completions.create(
        model=model, messages=[{"role": "user", "content": "stream me"}], store=True,
        stream=True, metadata={"kind": "streamed"},
    )  # fmt: skip
    chunk_ids = {chunk.id for chunk in stream}
    listed = sdk.chat.completions.list(metadata={"kind": "streamed"})
    assert [c.id for c in listed.data] == list(chunk_ids)
    stored = sdk.chat.completions.retrieve(listed.data[0].id)
    assert stored.choices[0].message.content == "kept from a stream"
    assert stored.usage is not None and stored.usage.completion_tokens == 4
    messages = sdk.chat.completions.messages.list(stored.id)
    assert [m.content for m in messages.data] == ["stream me"]
