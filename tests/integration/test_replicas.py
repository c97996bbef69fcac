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

import asyncio
import json
import threading
import time
from collections.abc import Callable, Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx
import pytest

from relaygate.billing.pricing import Price, charge, official_cost
from relaygate.core.money import format_money
from relaygate.core.units import Usage
from tests.fakes.openai_upstream import Behaviour, FakeOpenAI
from tests.harness import ADMIN_KEY, Gateway, IssuedKey, run_sync
from tests.integration.test_money import books
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
    if nginx_binary() is None:  # `make test` and .ci/run install it: fail, never skip
        pytest.fail("nginx is not installed: apt-get install nginx (make bench-tools)")
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


# ---------------------------------------------------------------- one limit
async def _burst(
    url: str, key: str, bodies: list[dict[str, Any]], parallel: int
) -> list[httpx.Response]:
    """Send ``bodies`` to the chat route, ``parallel`` at a time; every answer read."""
    headers = {"Authorization": f"Bearer {key}"}
    gate = asyncio.Semaphore(parallel)
    limits = httpx.Limits(max_connections=parallel + 4)

    async with httpx.AsyncClient(
        base_url=url, headers=headers, timeout=60, limits=limits
    ) as client:

        async def one(body: dict[str, Any]) -> httpx.Response:
            async with gate:
                response = await client.post("/v1/chat/completions", json=body)
                await response.aread()
                return response

        return await asyncio.gather(*(one(b) for b in bodies))


def test_one_rpm_limit_across_replicas(cluster: Cluster, upstream: FakeOpenAI) -> None:
    """A user in the 60 requests/minute tier (never topped up) sends 100 quick calls
    through the balancer: 60 get through, not 3 x 60."""
    a = cluster.replica(0)
    model = _model(a, upstream)
    _until_everywhere(cluster, lambda gw: _routes(gw, model), "channel")
    user_id = int(a.create_user()["id"])
    a.credit(user_id, "5", "adjustment")  # money, but no top-up: the first tier
    key = a.make_user_key(user_id=user_id)
    body = {"model": model, "messages": USER}
    started = time.monotonic()
    answers = run_sync(_burst(cluster.front_url, key.key, [body] * 100, parallel=6))
    took = time.monotonic() - started
    statuses = [r.status_code for r in answers]
    replicas = {r.headers["x-replica"] for r in answers}
    served = statuses.count(200)
    print(
        f"\n[replicas] rpm 60: {served} of 100 served over {len(replicas)} replicas in {took:.1f} s"
    )
    assert set(statuses) <= {200, 429}, statuses
    assert len(replicas) == REPLICAS
    # The window is two fixed minute buckets (docs/rate-limits.md): a burst that crosses
    # a minute boundary may admit the previous minute's share that decayed meanwhile,
    # at most one call per second of burst (60 per minute).
    assert 60 <= served <= 60 + int(took) + 1, (served, took)
    refused = next(r for r in answers if r.status_code == 429)
    assert refused.headers["x-ratelimit-limit-requests"] == "60"


def _priced(cluster: Cluster, model: str, key: IssuedKey) -> None:
    """Wait until every replica routes ``model`` and bills it (channels and prices
    travel separately: each has its own check)."""

    def bills(gw: Gateway) -> bool:
        response = _chat(gw.url, key.key, model)
        if response.status_code != 200:
            return False
        return int(gw.wait_for_usage(response.headers["x-request-id"])["amount"]) > 0

    _until_everywhere(cluster, bills, "channel and price")


def _routes(gw: Gateway, model: str) -> bool:
    """Whether ``gw`` routes ``model`` (the operator's own key: the house pays nothing)."""
    response = gw.http(ADMIN_KEY).post(
        "/v1/chat/completions", json={"model": model, "messages": USER}
    )
    return response.status_code == 200


def test_a_key_concurrency_limit_across_replicas(cluster: Cluster, upstream: FakeOpenAI) -> None:
    """A key limited to 2 calls in flight, 12 slow calls at once through the balancer:
    the upstream never sees more than 2 of them at a time (each replica alone would
    let 2 through, 6 in all)."""
    a = cluster.replica(0)
    model = _model(a, upstream)
    _until_everywhere(cluster, lambda gw: _routes(gw, model), "channel")
    key = a.make_user_key(concurrency_limit=2)
    latency = 1.0
    lock, starts = threading.Lock(), list[float]()

    def record(_: dict[str, Any]) -> str:
        with lock:
            starts.append(time.monotonic())
        return "slow answer"

    upstream.script(model, *[Behaviour(latency=latency, reply=record)] * 12)
    body = {"model": model, "messages": USER}
    answers = run_sync(_burst(cluster.front_url, key.key, [body] * 12, parallel=12))
    statuses = [r.status_code for r in answers]
    # each upstream call spans [start, start + latency], inside its call's slot
    peak = max(sum(1 for s in starts if s <= t < s + latency) for t in starts)
    print(f"\n[replicas] concurrency 2: {statuses.count(200)} served, upstream peak {peak}")
    assert set(statuses) <= {200, 429}, statuses
    assert statuses.count(200) == len(starts) >= 2
    assert 429 in statuses
    assert peak <= 2, sorted(starts)
    refused = next(r for r in answers if r.status_code == 429)
    assert refused.json()["error"]["code"] == "concurrency_limit_exceeded"


# ---------------------------------------------------------------- one balance
CALLS, PARALLEL, MAX_TOKENS, PROMPT = 10, 200, 100, 11
INPUT, OUTPUT = 1_000_000, 10_000_000  # 1.00 and 10.00 per 1M tokens
COST = PROMPT * INPUT // 1_000_000 + MAX_TOKENS * OUTPUT // 1_000_000  # 1011 micro


async def _fire(url: str, key: str, body: bytes, count: int) -> list[tuple[int, bool, str]]:
    """``count`` streaming calls, started over about two seconds (as
    test_money_concurrency.py does); (status, saw [DONE], the request id)."""
    limits = httpx.Limits(max_connections=count + 10, max_keepalive_connections=0)
    headers = {"Authorization": f"Bearer {key}", "Content-Type": "application/json"}

    async def one(i: int, client: httpx.AsyncClient) -> tuple[int, bool, str]:
        await asyncio.sleep((i % 25) * 0.08)  # spread admissions across settlements
        async with client.stream("POST", "/v1/chat/completions", content=body) as r:
            text = (await r.aread()).decode()
            return r.status_code, "data: [DONE]" in text, r.headers.get("x-request-id", "")

    async with httpx.AsyncClient(base_url=url, headers=headers, timeout=120, limits=limits) as c:
        return await asyncio.gather(*(one(i, c) for i in range(count)))


def test_one_balance_across_replicas(cluster: Cluster, upstream: FakeOpenAI) -> None:
    """Funded for 10 calls, 200 streaming calls at once spread over the replicas."""
    a = cluster.replica(0)
    model = _model(a, upstream)
    a.op(
        "PUT",
        f"/models/{model}",
        json={"input": format_money(INPUT), "output": format_money(OUTPUT)},
    )
    _priced(cluster, model, _caller(a))
    body = json.dumps(
        {"model": model, "messages": USER, "stream": True, "max_tokens": MAX_TOKENS}
    ).encode()
    hold = charge(
        official_cost(Price(INPUT, OUTPUT), Usage(len(body) // 4, MAX_TOKENS)), Decimal(1)
    )
    assert hold >= COST  # the premise of the bound: a hold covers a call
    words = " ".join(f"t{i}" for i in range(20))
    upstream.script(model, *[Behaviour(
        text=words, prompt_tokens=PROMPT, completion_tokens=MAX_TOKENS, chunk_delay=0.02
    )] * PARALLEL)  # fmt: skip
    user_id = int(a.create_user()["id"])
    a.credit(user_id, "20")  # the 1000 requests/minute tier: no call is refused with 429
    a.credit(user_id, format_money(CALLS * COST - 20_000_000), "adjustment")
    key = a.make_user_key(user_id=user_id)

    results = run_sync(_fire(cluster.front_url, key.key, body, PARALLEL))

    statuses = [status for status, _, _ in results]
    served = statuses.count(200)
    balance = int(books(a, user_id)["wallet"]["balance"])
    print(
        f"\n[replicas] one balance: served={served} refused={statuses.count(402)} "
        f"final balance={balance} micro (one call = {COST}, funded for {CALLS})"
    )
    assert set(statuses) <= {200, 402}, sorted(set(statuses))
    assert all(done for status, done, _ in results if status == 200), "a served stream was cut"
    # every served call billed once, at its price; the books balance (books() above)
    assert balance == CALLS * COST - served * COST, (balance, served)
    records = [a.wait_for_usage(rid) for status, _, rid in results if status == 200]
    assert all(r["amount"] == COST for r in records)
    if served > CALLS + 1:
        # One process bounds this at one call's hold past zero (test_money_concurrency).
        # Across replicas it does not yet: each replica admits against its own view of
        # the balance (up to balance_ttl old), which does not see the other replicas'
        # charges once their holds are released (docs/replicas.md, "Not yet proven").
        pytest.xfail(f"across replicas {served} calls were served for {CALLS} funded")
    assert balance >= -COST, balance


# ---------------------------------------------------------------- Redis restarts
def test_redis_restarted(cluster: Cluster, upstream: FakeOpenAI) -> None:
    """Redis away: relay calls fail at once (closed: no limit or hold can be checked),
    never hang, and no replica dies; Redis back (empty): calls are served again at once
    and billed once each. The refusal is a 503 in the caller's format, code
    ``service_unavailable`` (docs/replicas.md)."""
    a = cluster.replica(0)
    model = _model(a, upstream)
    a.op("PUT", f"/models/{model}", json={"input": "1", "output": "1"})
    _priced(cluster, model, _caller(a))
    key = _caller(a, topup="100")
    assert _chat(cluster.front_url, key.key, model).status_code == 200
    cluster.redis.kill()
    try:
        down = [_chat(cluster.front_url, key.key, model) for _ in range(REPLICAS)]
        assert all(r.status_code == 503 for r in down), [r.text for r in down]
        assert all(r.json()["error"]["code"] == "service_unavailable" for r in down)
        assert cluster.operator_reads()  # the control plane needs no Redis to read
    finally:
        cluster.redis.start()
    back = [_chat(cluster.front_url, key.key, model) for _ in range(2 * REPLICAS)]
    assert [r.status_code for r in back] == [200] * len(back)
    assert cluster.alive() == list(range(REPLICAS))
    records = a.usage(user_id=key.user_id, limit=1000)
    assert len({r["request_id"] for r in records}) == len(records)
    served = [r for r in records if r["status"] == 200]
    assert len(served) == 1 + len(back) and all(r["amount"] > 0 for r in served)
    assert all(r["amount"] == 0 for r in records if r["status"] != 200)
    books(a, key.user_id)


# ---------------------------------------------------------------- a replica dies
LOAD_SECONDS, KILL_AFTER, WORKERS = 5.0, 2.0, 6


async def _load(
    url: str, key: str, model: str, kill: Callable[[], float]
) -> tuple[list[dict[str, Any]], float]:
    """``WORKERS`` clients calling in a loop for ``LOAD_SECONDS``; ``kill`` runs (in a
    thread) after ``KILL_AFTER`` and returns when the replica is dead and reaped. Each
    call: when it started and ended, its status, request id and replica."""
    calls: list[dict[str, Any]] = []
    headers = {"Authorization": f"Bearer {key}"}
    body = {"model": model, "messages": USER}
    begin = time.monotonic()

    async def worker(client: httpx.AsyncClient) -> None:
        while time.monotonic() - begin < LOAD_SECONDS:
            started = time.monotonic()
            try:
                r = await client.post("/v1/chat/completions", json=body)
                status, rid, replica = (
                    r.status_code,
                    r.headers.get("x-request-id", ""),
                    r.headers.get("x-replica", ""),
                )
            except httpx.TransportError as exc:
                status, rid, replica = 0, "", repr(exc)
            calls.append(
                {
                    "started": started,
                    "ended": time.monotonic(),
                    "status": status,
                    "rid": rid,
                    "replica": replica,
                }
            )

    async def killer() -> float:
        await asyncio.sleep(KILL_AFTER)
        return await asyncio.to_thread(kill)

    async with httpx.AsyncClient(base_url=url, headers=headers, timeout=30) as client:
        killed, *_ = await asyncio.gather(killer(), *(worker(client) for _ in range(WORKERS)))
    return calls, killed


def test_kill_9_of_one_replica_mid_load(cluster: Cluster, upstream: FakeOpenAI) -> None:
    """The survivors serve on (nginx passes a refused connection to the next replica);
    every call a client saw complete is billed exactly once; a call cut by the kill is
    billed at most once; the books balance."""
    a = cluster.replica(0)
    model = _model(a, upstream)
    a.op(
        "PUT",
        f"/models/{model}",
        json={"input": format_money(INPUT), "output": format_money(OUTPUT)},
    )
    _priced(cluster, model, _caller(a))
    upstream.script(
        model, *[Behaviour(latency=0.2, prompt_tokens=PROMPT, completion_tokens=MAX_TOKENS)] * 2000
    )
    key = _caller(a, topup="100")
    victim = cluster.served[2]

    def kill() -> float:
        victim.kill()  # SIGKILL, reaped: its port refuses connections from here on
        return time.monotonic()

    calls, killed = run_sync(_load(cluster.front_url, key.key, model, kill))

    statuses = [c["status"] for c in calls]
    cut = [c for c in calls if c["status"] != 200]
    after = [c for c in calls if c["started"] > killed]
    print(
        f"\n[replicas] kill -9: {len(calls)} calls, {statuses.count(200)} served, "
        f"{len(cut)} cut ({sorted({c['status'] for c in cut})}), {len(after)} after the kill"
    )
    assert cluster.alive() == [0, 1]
    assert after and all(c["status"] == 200 for c in after), [
        c for c in after if c["status"] != 200
    ]
    assert {c["replica"] for c in after} <= {f"127.0.0.1:{s.port}" for s in cluster.served[:2]}
    assert all(c["status"] in (200, 502) for c in cut), cut
    assert len(cut) <= WORKERS  # only calls in flight on the dead replica
    records = a.usage(user_id=key.user_id, limit=1000)
    by_id: dict[str, int] = {}
    for record in records:
        by_id[record["request_id"]] = by_id.get(record["request_id"], 0) + 1
    assert all(n == 1 for n in by_id.values()), "a call was billed twice"
    served = [c for c in calls if c["status"] == 200]
    assert all(by_id.get(c["rid"]) == 1 for c in served), "a served call has no bill"
    billed = {r["request_id"]: r["amount"] for r in records}
    assert all(billed[c["rid"]] == COST for c in served)
    wallet = books(a, key.user_id)["wallet"]
    assert int(wallet["balance"]) == 100_000_000 - sum(billed.values())
