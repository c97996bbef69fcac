"""Channel types and keys over real HTTP: Azure OpenAI's addressing, several keys per
channel in rotation (a refused key is set aside and the call retried with the next), the
operator's channel test, and periodic probes closing a breaker."""

from __future__ import annotations

import socket
import time
import uuid
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from tests.fakes.azure_upstream import FakeAzure
from tests.fakes.openai_upstream import Behaviour, FakeOpenAI
from tests.harness import Gateway

USER = [{"role": "user", "content": "hi"}]


@pytest.fixture
def azure() -> Iterator[FakeAzure]:
    with FakeAzure() as server:
        yield server


def _model() -> str:
    return f"m-{uuid.uuid4().hex[:8]}"


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _azure_channel(gw: Gateway, azure: FakeAzure, model: str, version: str) -> dict[str, Any]:
    return gw.add_channel(
        azure,
        models={model: "my-deployment"},
        type="azure_openai",
        api_key=azure.api_key,
        options={"api_version": version},
    )


def test_azure_dated_version_addresses_the_deployment(gateway: Gateway, azure: FakeAzure) -> None:
    model = _model()
    _azure_channel(gateway, azure, model, "2024-10-21")
    key = gateway.make_user_key()
    sdk = gateway.openai(key.key)
    answer = sdk.chat.completions.create(model=model, messages=USER)  # type: ignore[arg-type]
    assert answer.choices[0].message.content == "Hello from the fake upstream."
    chunks = list(sdk.chat.completions.create(model=model, messages=USER, stream=True))  # type: ignore[arg-type]
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert text == "Hello from the fake upstream."
    assert len(azure.seen) == 2
    for call in azure.seen:
        assert call.path == "/openai/deployments/my-deployment/chat/completions"
        assert call.api_version == "2024-10-21"
        assert call.api_key == azure.api_key and call.authorization is None
    records = gateway.usage(user_id=key.user_id)
    assert [r["upstream_model"] for r in records] == ["my-deployment", "my-deployment"]


def test_azure_v1_api_names_the_deployment_in_the_body(gateway: Gateway, azure: FakeAzure) -> None:
    model = _model()
    _azure_channel(gateway, azure, model, "v1")
    sdk = gateway.openai(gateway.make_user_key().key)
    vectors = sdk.embeddings.create(model=model, input="hello")
    assert len(vectors.data) == 1
    assert azure.seen[-1].path == "/openai/v1/embeddings"
    assert azure.requests[-1].body["model"] == "my-deployment"


def test_azure_channel_with_a_wrong_key_is_a_clean_502(gateway: Gateway, azure: FakeAzure) -> None:
    model = _model()
    gateway.add_channel(
        azure,
        models={model: "d"},
        type="azure_openai",
        api_key="wrong",
        options={"api_version": "2024-10-21"},
    )
    response = gateway.http(gateway.make_user_key().key).post(
        "/v1/chat/completions", json={"model": model, "messages": USER}
    )
    assert response.status_code == 502
    assert "wrong" not in response.text and "Access denied" not in response.text


def test_keys_rotate_and_a_refused_key_is_set_aside(gateway: Gateway, fake: FakeOpenAI) -> None:
    model = _model()
    channel = gateway.add_channel(fake, models=[model], api_key=["sk-a", "sk-b", "sk-c"])
    assert channel["key_count"] == 3 and channel["has_api_key"]
    key = gateway.make_user_key()
    sdk = gateway.openai(key.key)
    for _ in range(3):
        sdk.chat.completions.create(model=model, messages=USER)  # type: ignore[arg-type]
    used = [r.authorization for r in fake.requests[-3:]]
    assert sorted(used) == ["Bearer sk-a", "Bearer sk-b", "Bearer sk-c"]  # one call each

    fake.script(model, Behaviour(status=401))  # whichever key comes next is refused
    answer = sdk.chat.completions.create(model=model, messages=USER)  # type: ignore[arg-type]
    assert answer.choices[0].message.content == "Hello from the fake upstream."
    refused, retried = fake.requests[-2:]
    assert refused.status == 401 and retried.status == 200
    assert refused.authorization != retried.authorization
    for _ in range(4):  # the refused key sits out while the others take turns
        sdk.chat.completions.create(model=model, messages=USER)  # type: ignore[arg-type]
    assert refused.authorization not in [r.authorization for r in fake.requests[-4:]]
    health = next(r for r in gateway.op("GET", "/channels/health") if r["id"] == channel["id"])
    index = ["Bearer sk-a", "Bearer sk-b", "Bearer sk-c"].index(refused.authorization or "")
    assert health["benched_keys"] == [index]
    records = gateway.usage(user_id=key.user_id)
    assert len(records) == 8 and all(r["status"] == 200 for r in records)
    assert sorted(r["attempts"] for r in records) == [1] * 7 + [2]  # the retried call


def test_every_key_refused_is_a_clean_502(gateway: Gateway, fake: FakeOpenAI) -> None:
    model = _model()
    gateway.add_channel(fake, models=[model], api_key="sk-x\nsk-y")
    fake.script(model, Behaviour(status=401), Behaviour(status=401))
    response = gateway.http(gateway.make_user_key().key).post(
        "/v1/chat/completions", json={"model": model, "messages": USER}
    )
    assert response.status_code == 502
    assert {r.authorization for r in fake.requests[-2:]} == {"Bearer sk-x", "Bearer sk-y"}


def test_channel_test_reports_each_key(gateway: Gateway, fake: FakeOpenAI) -> None:
    model = _model()
    channel = gateway.add_channel(fake, models=[model], api_key=["sk-good", "sk-bad-key-1234"])
    fake.script(model, Behaviour(status=200), Behaviour(status=401))
    result = gateway.op("POST", f"/channels/{channel['id']}/test", json={})
    assert result["ok"] is True and result["model"] == model
    assert [(k["key"], k["ok"], k["status"]) for k in result["keys"]] == [
        (0, True, 200),
        (1, False, 401),
    ]
    assert "sk-bad-key-1234" not in str(result)
    probe = fake.requests[-1].body
    assert probe["max_tokens"] == 1 and probe["model"] == model


def test_channel_test_of_a_dead_channel(gateway: Gateway, fake: FakeOpenAI) -> None:
    model = _model()
    dead = gateway.add_channel(
        fake, models=[model], base_url=f"http://127.0.0.1:{_closed_port()}/v1"
    )
    result = gateway.op("POST", f"/channels/{dead['id']}/test", json={"model": model})
    assert result["ok"] is False and result["status"] is None
    assert result["keys"][0]["error"] == "The upstream could not be reached."
    assert result["health"]["errors"] >= 1
    response = gateway.operator.post(f"/channels/{dead['id']}/test", json={"model": "nope"})
    assert response.status_code == 400 and response.json()["statusCode"] == 400


def test_periodic_probe_closes_an_open_breaker(
    gateway_factory: Callable[..., Gateway], fake: FakeOpenAI
) -> None:
    gw = gateway_factory(breaker_threshold=1, breaker_cooldown=3600, health_probe_interval=0.2)
    model = _model()
    flaky = gw.add_channel(fake, models=[model], priority=0)
    gw.add_channel(fake, models=[model], priority=1)
    fake.script(model, Behaviour(status=500))
    sdk = gw.openai(gw.make_user_key().key)
    sdk.chat.completions.create(model=model, messages=USER)  # type: ignore[arg-type]
    # the 500 opened the first channel's breaker (threshold 1, an hour's cool-down); only
    # a probe can close it this side of an hour
    deadline = time.monotonic() + 10
    while True:
        state = next(r for r in gw.op("GET", "/channels/health") if r["id"] == flaky["id"])
        if state["state"] == "closed":
            break
        assert time.monotonic() < deadline, state
        time.sleep(0.1)
    probes = [r for r in fake.requests if r.body and r.body.get("max_tokens") == 1]
    assert probes, "the breaker closed without a probe"


def test_channel_test_of_an_embedding_model_embeds(gateway: Gateway, fake: FakeOpenAI) -> None:
    channel = gateway.add_channel(fake, models={"my-embedder": "text-embedding-3-small"})
    result = gateway.op("POST", f"/channels/{channel['id']}/test", json={})
    assert result["ok"] is True and result["upstream_model"] == "text-embedding-3-small"
    probe = fake.requests[-1]
    assert probe.path == "/v1/embeddings" and probe.body == {
        "model": "text-embedding-3-small",
        "input": "ping",
    }
