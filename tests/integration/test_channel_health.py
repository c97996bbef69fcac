"""Circuit breakers over real HTTP: a failing channel is passed over, then tried again.

Fault injection with real servers: a channel whose port refuses connections, and a fake
upstream that answers 500 and then recovers. Callers are served by the healthy channel
meanwhile, and no failed attempt is billed.
"""

from __future__ import annotations

import socket
import time
import uuid
from collections.abc import Callable
from typing import Any

from tests.fakes.openai_upstream import Behaviour, FakeOpenAI
from tests.harness import Gateway

USER = [{"role": "user", "content": "hi"}]


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _health(gw: Gateway, channel_id: int) -> dict[str, Any]:
    rows: list[dict[str, Any]] = gw.op("GET", "/channels/health")
    return next(row for row in rows if row["id"] == channel_id)


def _until(check: Callable[[], bool], seconds: float = 10.0) -> None:
    deadline = time.monotonic() + seconds
    while not check():
        assert time.monotonic() < deadline, "condition not reached in time"
        time.sleep(0.05)


def test_breaker_opens_on_a_dead_channel_and_calls_go_to_the_next(
    gateway_factory: Callable[..., Gateway], fake: FakeOpenAI
) -> None:
    gw = gateway_factory(breaker_threshold=2, breaker_cooldown=3600)
    model = f"hb-{uuid.uuid4().hex[:8]}"
    dead = gw.add_channel(
        fake, models=[model], base_url=f"http://127.0.0.1:{_closed_port()}/v1", priority=0
    )
    gw.add_channel(fake, models=[model], priority=1)
    key = gw.make_user_key()
    sdk = gw.openai(key.key)
    for _ in range(4):
        answer = sdk.chat.completions.create(model=model, messages=USER)  # type: ignore[arg-type]
        assert answer.choices[0].message.content == "Hello from the fake upstream."
    state = _health(gw, dead["id"])
    assert state["state"] == "open" and state["consecutive_failures"] == 2
    assert state["calls"] == 2  # opened after two failures: the later calls skipped it
    records = gw.usage(user_id=key.user_id)
    assert len(records) == 4 and all(r["status"] == 200 for r in records)


def test_breaker_half_opens_and_closes_when_the_upstream_recovers(
    gateway_factory: Callable[..., Gateway], fake: FakeOpenAI
) -> None:
    gw = gateway_factory(breaker_threshold=2, breaker_cooldown=0.3)
    model = f"hr-{uuid.uuid4().hex[:8]}"
    channel = gw.add_channel(fake, models=[model])
    key = gw.make_user_key()
    fake.script(model, Behaviour(status=500), Behaviour(status=500))
    with gw.http(key.key) as http:
        for _ in range(2):
            failed = http.post("/v1/chat/completions", json={"model": model, "messages": USER})
            assert failed.status_code == 502
        assert _health(gw, channel["id"])["state"] == "open"
        refused = http.post("/v1/chat/completions", json={"model": model, "messages": USER})
        assert refused.status_code == 503  # nothing sent: the breaker is open
        assert "failing" in refused.json()["error"]["message"]
        sent = len(fake.requests)
        _until(lambda: _health(gw, channel["id"])["state"] == "half_open")
        recovered = http.post("/v1/chat/completions", json={"model": model, "messages": USER})
        assert recovered.status_code == 200
    assert len(fake.requests) == sent + 1
    assert _health(gw, channel["id"])["state"] == "closed"
    charged = [r for r in gw.usage(user_id=key.user_id) if r["amount"]]
    assert all(r["status"] == 200 for r in charged)
