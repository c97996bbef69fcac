"""Three replicas behind nginx on one PostgreSQL and one Redis (tests/replicas.py).

What DESIGN.md §1 promises of the scale-out mode, checked on real processes:

* a change made through one replica's operator API (a channel added or disabled, a
  price, a key disabled, a rule) is in force on the others soon after: each test
  prints the delay it measured (``-s``) and asserts only that it happened within
  :data:`EVENTUALLY` seconds (no timing assertion; docs/replicas.md has the figures);
* one limit across replicas: a user at 60 requests per minute gets 60 calls through the
  load balancer, not 180; a key's concurrency limit holds across replicas;
* one balance: a user funded for 10 calls, 200 calls at once over the replicas;
* kill -9 of one replica under load: the others serve on, every call the clients saw
  complete is billed exactly once.

One cluster serves the whole module (starting it migrates a fresh database); the kill
test runs last, as it leaves two replicas.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.fakes.openai_upstream import Behaviour, FakeOpenAI
from tests.harness import Gateway, IssuedKey
from tests.replicas import REPLICAS, Cluster, nginx_binary

pytestmark = pytest.mark.postgres

EVENTUALLY = 10.0  # seconds: a change not in force everywhere by then is a failure
USER = [{"role": "user", "content": "Tell me a story about money."}]


@pytest.fixture(scope="module")
def upstream() -> Iterator[FakeOpenAI]:
    with FakeOpenAI() as fake:
        yield fake


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cluster]:
    pytest.importorskip("asyncpg")
    if nginx_binary() is None:
        if os.environ.get("RELAYGATE_REQUIRE_POSTGRES"):  # CI: .ci/run installs it
            pytest.fail("nginx is not installed: apt-get install nginx")
        pytest.skip("nginx is not installed (apt-get install nginx)")
    started = Cluster(Path(tmp_path_factory.mktemp("replicas"))).start()
    yield started
    started.close()


# ---------------------------------------------------------------- helpers
def _caller(gw: Gateway, topup: str = "300") -> IssuedKey:
    """A key whose user is in the 10,000 requests/minute tier: polling is never limited."""
    user_id = int(gw.create_user()["id"])
    gw.credit(user_id, topup)
    return gw.make_user_key(user_id=user_id)


def _model(gw: Gateway, fake: FakeOpenAI) -> str:
    channel = gw.add_channel(fake)
    return str(next(iter(channel["models"])))


def _chat(url: str, key: str, model: str, **extra: Any) -> httpx.Response:
    headers = {"Authorization": f"Bearer {key}"}
    body = {"model": model, "messages": USER, **extra}
    return httpx.post(url + "/v1/chat/completions", headers=headers, json=body, timeout=30)


def _until_everywhere(
    cluster: Cluster, in_force: Callable[[Gateway], bool], what: str
) -> dict[int, float]:
    """Poll every other replica until ``in_force`` holds on each; the delays (seconds
    from now, when the change's operator call has returned on replica 0), printed."""
    start = time.monotonic()
    delays: dict[int, float] = {}
    while len(delays) < REPLICAS - 1:
        for i in range(1, REPLICAS):
            if i not in delays and in_force(cluster.replica(i)):
                delays[i] = time.monotonic() - start
        assert time.monotonic() - start < EVENTUALLY, f"{what}: only replicas {delays} after"
        time.sleep(0.02)
    shown = ", ".join(f"replica {i}: {d * 1000:.0f} ms" for i, d in sorted(delays.items()))
    print(f"\n[replicas] {what}: in force on {shown}")
    return delays


# ---------------------------------------------------------------- the harness itself
def test_the_balancer_spreads_calls_over_every_replica(
    cluster: Cluster, upstream: FakeOpenAI
) -> None:
    a = cluster.replica(0)
    model = _model(a, upstream)
    key = _caller(a)
    _until_everywhere(cluster, lambda gw: _chat(gw.url, key.key, model).status_code == 200, "ok")
    answered = {_chat(cluster.front_url, key.key, model).headers["x-replica"] for _ in range(6)}
    assert answered == {f"127.0.0.1:{s.port}" for s in cluster.served}


# ---------------------------------------------------------------- propagation
def test_a_channel_added_then_disabled_on_one_replica(
    cluster: Cluster, upstream: FakeOpenAI
) -> None:
    a = cluster.replica(0)
    key = _caller(a)
    channel = a.add_channel(upstream)
    model = str(next(iter(channel["models"])))
    assert _chat(a.url, key.key, model).status_code == 200  # at once where it was made
    _until_everywhere(
        cluster, lambda gw: _chat(gw.url, key.key, model).status_code == 200, "channel added"
    )
    a.op("PATCH", f"/channels/{channel['id']}", json={"enabled": False})
    assert _chat(a.url, key.key, model).status_code in (404, 503)
    _until_everywhere(
        cluster,
        lambda gw: _chat(gw.url, key.key, model).status_code in (404, 503),
        "channel disabled",
    )


def test_a_price_changed_on_one_replica(cluster: Cluster, upstream: FakeOpenAI) -> None:
    a = cluster.replica(0)
    model = _model(a, upstream)
    a.op("PUT", f"/models/{model}", json={"input": "1", "output": "1"})
    key = _caller(a)
    upstream.default = Behaviour()

    def billed(gw: Gateway) -> int:
        response = _chat(gw.url, key.key, model)
        assert response.status_code == 200, response.text
        return int(gw.wait_for_usage(response.headers["x-request-id"])["amount"])

    _until_everywhere(
        cluster, lambda gw: _chat(gw.url, key.key, model).status_code == 200, "channel"
    )
    assert billed(cluster.replica(2)) > 0
    before = billed(cluster.replica(1))
    a.op("PUT", f"/models/{model}", json={"input": "1000", "output": "1000"})
    assert billed(a) == before * 1000
    _until_everywhere(cluster, lambda gw: billed(gw) == before * 1000, "price changed")


def test_a_key_disabled_on_one_replica(cluster: Cluster, upstream: FakeOpenAI) -> None:
    a = cluster.replica(0)
    model = _model(a, upstream)
    key = _caller(a)
    _until_everywhere(cluster, lambda gw: _chat(gw.url, key.key, model).status_code == 200, "key")
    a.op("PATCH", f"/keys/{key.id}", json={"is_disabled": True})
    assert _chat(a.url, key.key, model).status_code == 401
    _until_everywhere(
        cluster, lambda gw: _chat(gw.url, key.key, model).status_code == 401, "key disabled"
    )


def test_an_idle_key_disabled_on_one_replica_is_refused_at_its_next_call(
    cluster: Cluster, upstream: FakeOpenAI
) -> None:
    """The key cache's ttl bounds the delay for an idle key too (no call gets through
    on a stale entry): one call on B, the key disabled on A, B's next call refused."""
    a, b = cluster.replica(0), cluster.replica(1)
    model = _model(a, upstream)
    key = _caller(a)
    _until_everywhere(cluster, lambda gw: _chat(gw.url, key.key, model).status_code == 200, "key")
    a.op("PATCH", f"/keys/{key.id}", json={"is_disabled": True})
    time.sleep(1.2)  # key_cache_ttl (1 s) and a little: B's entry is past its ttl
    assert _chat(b.url, key.key, model).status_code == 401


def test_a_rule_edited_on_one_replica(cluster: Cluster, upstream: FakeOpenAI) -> None:
    a = cluster.replica(0)
    model = _model(a, upstream)
    key = _caller(a)
    admin = a.make_user_key(user_id=key.user_id, is_admin=True).key
    _until_everywhere(cluster, lambda gw: _chat(gw.url, key.key, model).status_code == 200, "rule")
    rules = "/api/v1/user/override-rules"
    with a.http(admin) as http:
        made = http.post(f"{rules}/create", json={
            "name": "stop", "actions": [{"type": "block", "message": "stopped"}],
        })  # fmt: skip
        assert made.status_code == 200, made.text
        rule_id = made.json()["data"]["id"]
        assert _chat(a.url, key.key, model).status_code == 403
        _until_everywhere(
            cluster, lambda gw: _chat(gw.url, key.key, model).status_code == 403, "rule created"
        )
        off = http.post(f"{rules}/batch-toggle", json={"ids": [rule_id], "enabled": False})
        assert off.status_code == 200, off.text
    _until_everywhere(
        cluster, lambda gw: _chat(gw.url, key.key, model).status_code == 200, "rule disabled"
    )
