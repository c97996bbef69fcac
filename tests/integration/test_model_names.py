"""A channel's mapped model name stays private (issue 11, §1).

A channel mapping ``gpt-public-…`` to ``secret-upstream-…`` sends the secret name
upstream, and the fakes answer with it (as real upstreams do, often as a dated variant).
The caller sees the public name it asked for in every dialect, translated or not, stream
chunks and whole bodies, and in what Relaygate stores and serves back (stored chat
completions, Responses, background Responses).
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator
from typing import Any

import anthropic
import httpx
import pytest

from tests.fakes.anthropic_upstream import FakeAnthropic
from tests.fakes.openai_upstream import Behaviour, FakeOpenAI
from tests.fakes.responses_upstream import FakeOpenAIResponses
from tests.harness import Gateway

USER: Any = [{"role": "user", "content": "hi"}]
SECRET = "secret-upstream"


@pytest.fixture
def fake_anthropic() -> Iterator[FakeAnthropic]:
    with FakeAnthropic() as fake:
        yield fake



def _mapped(gw: Gateway, fake: Any, kind: str = "openai", **extra: Any) -> tuple[str, str]:
    """A channel serving a fresh public name as a secret one: (public, secret)."""
    suffix = uuid.uuid4().hex[:8]
    public, secret = f"gpt-public-{suffix}", f"{SECRET}-model-{suffix}"
    base = fake.url if kind == "anthropic" else fake.base_url
    gw.add_channel(fake, models={public: secret}, type=kind, base_url=base, **extra)
    return public, secret


def _anthropic(gw: Gateway, key: str) -> anthropic.Anthropic:
    return anthropic.Anthropic(base_url=gw.url, api_key=key, max_retries=0)


@pytest.mark.parametrize("spaced", [False, True])
def test_openai_chat_completions_and_embeddings(
    sqlite_gateway: Gateway, fake: FakeOpenAI, spaced: bool
) -> None:
    gw = sqlite_gateway
    public, secret = _mapped(gw, fake)
    fake.default = Behaviour(text="the model said model", spaced_json=spaced)
    key = gw.make_user_key().key
    client = gw.openai(key)

    answer = client.chat.completions.create(model=public, messages=USER)
    assert answer.model == public
    assert fake.requests[-1].body["model"] == secret  # the upstream got the secret name
    assert secret.encode() in fake.requests[-1].response_body  # and answered with it
    chunks = list(client.chat.completions.create(model=public, messages=USER, stream=True))
    assert chunks and {c.model for c in chunks} == {public}
    assert "".join(c.choices[0].delta.content or "" for c in chunks if c.choices) == (
        "the model said model"
    )
    completion = client.completions.create(model=public, prompt="hi")
    assert completion.model == public
    streamed = list(client.completions.create(model=public, prompt="hi", stream=True))
    assert streamed and {c.model for c in streamed} == {public}
    assert client.embeddings.create(model=public, input="hi").model == public

    raw = gw.http(key).post(
        "/v1/chat/completions", json={"model": public, "messages": USER, "stream": True}
    )
    assert SECRET not in raw.text and public in raw.text


def test_generated_text_is_not_rewritten(sqlite_gateway: Gateway, fake: FakeOpenAI) -> None:
    public, secret = _mapped(sqlite_gateway, fake)
    said = f'{{"model": "{secret}"}}'
    fake.default = Behaviour(text=said)
    client = sqlite_gateway.openai(sqlite_gateway.make_user_key().key)
    assert client.chat.completions.create(model=public, messages=USER).choices[
        0
    ].message.content == (said)


def test_stored_chat_completions(sqlite_gateway: Gateway, fake: FakeOpenAI) -> None:
    public, _ = _mapped(sqlite_gateway, fake)
    client = sqlite_gateway.openai(sqlite_gateway.make_user_key().key)
    whole = client.chat.completions.create(model=public, messages=USER, store=True)
    chunks = list(
        client.chat.completions.create(model=public, messages=USER, store=True, stream=True)
    )
    for completion_id in (whole.id, chunks[0].id):
        stored = client.chat.completions.retrieve(completion_id)
        assert stored.model == public
    listed = client.chat.completions.list()
    assert listed.data and {c.model for c in listed.data} == {public}


def test_anthropic_messages_same_dialect_and_translated(
    sqlite_gateway: Gateway, fake: FakeOpenAI, fake_anthropic: FakeAnthropic
) -> None:
    gw = sqlite_gateway
    key = gw.make_user_key().key
    for upstream, kind in ((fake_anthropic, "anthropic"), (fake, "openai")):
        public, _ = _mapped(gw, upstream, kind)
        client = _anthropic(gw, key)
        message = client.messages.create(model=public, max_tokens=16, messages=USER)
        assert message.model == public
        with client.messages.stream(model=public, max_tokens=16, messages=USER) as stream:
            events = list(stream)
            final = stream.get_final_message()
        assert final.model == public
        starts = [e for e in events if e.type == "message_start"]
        assert starts and starts[0].message.model == public
        counted = client.messages.count_tokens(model=public, messages=USER)
        assert counted.input_tokens > 0
        raw = gw.http(key).post(
            "/v1/messages",
            json={"model": public, "max_tokens": 16, "messages": USER, "stream": True},
            headers={"anthropic-version": "2023-06-01"},
        )
        assert raw.status_code == 200 and SECRET not in raw.text


def test_openai_client_on_an_anthropic_channel(
    sqlite_gateway: Gateway, fake_anthropic: FakeAnthropic
) -> None:
    public, _ = _mapped(sqlite_gateway, fake_anthropic, "anthropic")
    client = sqlite_gateway.openai(sqlite_gateway.make_user_key().key)
    assert client.chat.completions.create(model=public, messages=USER).model == public
    chunks = list(client.chat.completions.create(model=public, messages=USER, stream=True))
    assert chunks and {c.model for c in chunks} == {public}


def test_responses_translated_native_stored_and_background(
    sqlite_gateway: Gateway, fake: FakeOpenAI, native: FakeOpenAIResponses
) -> None:
    gw = sqlite_gateway
    key = gw.make_user_key().key
    client = gw.openai(key)
    for upstream, extra in ((fake, {}), (native, {"options": {"responses_api": True}})):
        public, secret = _mapped(gw, upstream, **extra)
        whole = client.responses.create(model=public, input="hi")
        assert whole.model == public
        assert upstream.requests[-1].body["model"] == secret
        events = list(client.responses.create(model=public, input="hi", stream=True))
        models = {e.response.model for e in events if hasattr(e, "response")}
        assert models == {public}
        streamed_id = next(e.response.id for e in events if hasattr(e, "response"))
        for response_id in (whole.id, streamed_id):
            assert client.responses.retrieve(response_id).model == public
        started = client.responses.create(model=public, input="hi", background=True)
        done = _settled(client, started.id)
        assert done.status == "completed" and done.model == public
        raw = httpx.get(
            f"{gw.url}/v1/responses/{started.id}",
            headers={"Authorization": f"Bearer {key}"},
            params={"stream": "true"},
        )
        assert raw.status_code == 200 and SECRET not in raw.text


def _settled(client: Any, response_id: str) -> Any:
    deadline = time.monotonic() + 10
    response = client.responses.retrieve(response_id)
    while response.status in ("queued", "in_progress") and time.monotonic() < deadline:
        time.sleep(0.05)
        response = client.responses.retrieve(response_id)
    return response
