"""One usage record per relayed call, on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import openai
import pytest

from tests.fakes.openai_upstream import Behaviour, FakeOpenAI
from tests.harness import Gateway, IssuedKey

USER = [{"role": "user", "content": "Count my tokens"}]


def _setup(gw: Gateway, fake: FakeOpenAI) -> tuple[str, dict[str, Any], IssuedKey]:
    ch = gw.add_channel(fake, models={f"metered-{fake.port}": "upstream-metered"})
    return next(iter(ch["models"])), ch, gw.make_user_key()


def _assert_common(record: dict[str, Any], rid: str, key: IssuedKey, ch: dict[str, Any]) -> None:
    assert record["request_id"] == rid
    assert record["user_id"] == key.user_id
    assert record["key_id"] == key.id
    assert record["channel_id"] == ch["id"]
    assert record["client_ip"] == "127.0.0.1"
    for name in ("rurt_ms", "duration_ms"):
        assert isinstance(record[name], int) and record[name] >= 0, record
    datetime.fromisoformat(record["created_at"])


def test_non_stream_usage_record(gateway: Gateway, fake: FakeOpenAI) -> None:
    model, ch, key = _setup(gateway, fake)
    fake.script(
        None, Behaviour(prompt_tokens=13, completion_tokens=7, cached_tokens=5, reasoning_tokens=3)
    )
    raw = gateway.openai(key.key).chat.completions.with_raw_response.create(
        model=model, messages=USER
    )
    rid = raw.headers["x-request-id"]
    record = gateway.wait_for_usage(rid)
    _assert_common(record, rid, key, ch)
    assert record["model"] == model
    assert record["upstream_model"] == "upstream-metered"
    assert record["endpoint"] == "chat/completions"
    assert record["status"] == 200
    assert record["stream"] is False
    assert (record["prompt_tokens"], record["completion_tokens"]) == (13, 7)
    assert (record["cached_tokens"], record["reasoning_tokens"]) == (5, 3)
    assert record["usage_estimated"] is False
    assert record["error"] is None


def test_stream_usage_record_from_upstream_usage(gateway: Gateway, fake: FakeOpenAI) -> None:
    model, ch, key = _setup(gateway, fake)
    fake.script(
        None,
        Behaviour(
            text="a b c", prompt_tokens=17, completion_tokens=3, cached_tokens=4, reasoning_tokens=2
        ),
    )
    client = gateway.openai(key.key)
    with client.chat.completions.with_streaming_response.create(
        model=model, messages=USER, stream=True, stream_options={"include_usage": True}
    ) as response:
        rid = response.headers["x-request-id"]
        chunks = list(response.parse())
    assert chunks[-1].usage is not None
    record = gateway.wait_for_usage(rid)
    _assert_common(record, rid, key, ch)
    assert record["stream"] is True and record["status"] == 200
    assert (record["prompt_tokens"], record["completion_tokens"]) == (17, 3)
    assert (record["cached_tokens"], record["reasoning_tokens"]) == (4, 2)
    assert record["ttfb_ms"] is None or record["ttfb_ms"] >= 0


def test_stream_without_client_usage_still_metered(gateway: Gateway, fake: FakeOpenAI) -> None:
    """The client did not ask for usage; the record still has the call's tokens."""
    model, _, key = _setup(gateway, fake)
    fake.script(None, Behaviour(text="w1 w2 w3 w4", prompt_tokens=8, completion_tokens=4))
    with gateway.openai(key.key).chat.completions.with_streaming_response.create(
        model=model, messages=USER, stream=True
    ) as response:
        rid = response.headers["x-request-id"]
        list(response.parse())
    record = gateway.wait_for_usage(rid)
    assert record["completion_tokens"] > 0 and record["prompt_tokens"] > 0
    if not record["usage_estimated"]:
        assert (record["prompt_tokens"], record["completion_tokens"]) == (8, 4)


def test_embeddings_and_completions_endpoints(gateway: Gateway, fake: FakeOpenAI) -> None:
    model, ch, key = _setup(gateway, fake)
    client = gateway.openai(key.key)
    emb = client.embeddings.with_raw_response.create(model=model, input="x")
    cmp = client.completions.with_raw_response.create(model=model, prompt="x")
    emb_record = gateway.wait_for_usage(emb.headers["x-request-id"])
    cmp_record = gateway.wait_for_usage(cmp.headers["x-request-id"])
    assert emb_record["endpoint"] == "embeddings" and emb_record["prompt_tokens"] == 11
    assert cmp_record["endpoint"] == "completions" and cmp_record["completion_tokens"] > 0
    for record in (emb_record, cmp_record):
        assert record["status"] == 200 and record["channel_id"] == ch["id"]


def test_failed_call_is_recorded_with_error(gateway: Gateway, fake: FakeOpenAI) -> None:
    model, _, key = _setup(gateway, fake)
    fake.default = Behaviour(status=500)
    with pytest.raises(openai.InternalServerError) as info:
        gateway.openai(key.key).chat.completions.create(model=model, messages=USER)
    rid = info.value.response.headers["x-request-id"]
    record = gateway.wait_for_usage(rid)
    assert record["status"] == info.value.status_code == 502
    assert record["error"]
    assert record["completion_tokens"] == 0


def test_usage_filters_by_key_and_user(gateway: Gateway) -> None:
    key = gateway.make_user_key()
    other = gateway.make_user_key()
    client = gateway.openai(key.key)
    rids = [
        client.chat.completions.with_raw_response.create(
            model="relaygate-echo", messages=USER
        ).headers["x-request-id"]
        for _ in range(3)
    ]
    gateway.openai(other.key).chat.completions.create(model="relaygate-echo", messages=USER)
    for rid in rids:
        gateway.wait_for_usage(rid)
    by_key = gateway.usage(key_id=key.id, limit=100)
    assert {r["request_id"] for r in by_key} == set(rids)
    by_user = gateway.usage(user_id=key.user_id, limit=100)
    assert {r["request_id"] for r in by_user} == set(rids)
    assert len(gateway.usage(key_id=key.id, limit=2)) == 2


def test_request_ids_are_unique(gateway: Gateway) -> None:
    client = gateway.openai(gateway.make_user_key().key)
    rids = {
        client.chat.completions.with_raw_response.create(
            model="relaygate-echo", messages=USER
        ).headers["x-request-id"]
        for _ in range(5)
    }
    assert len(rids) == 5


def test_client_ip_ignores_spoofed_forwarded_headers(gateway: Gateway) -> None:
    """By default proxy headers are not trusted: the record has the socket's address."""
    key = gateway.make_user_key()
    with gateway.http(key.key) as http:
        response = http.post(
            "/v1/chat/completions",
            json={"model": "relaygate-echo", "messages": USER},
            headers={
                "X-Forwarded-For": "203.0.113.9",
                "X-Real-IP": "203.0.113.10",
                "Forwarded": "for=203.0.113.11",
            },
        )
    assert response.status_code == 200
    record = gateway.wait_for_usage(response.headers["x-request-id"])
    assert record["client_ip"] == "127.0.0.1"
