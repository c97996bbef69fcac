"""The call lifecycle (relay/call.py): in flight, holds and bills, however a call ends.

Built from the real services (``build``: SQLite, the memory kv, the bill writer), as
the gateway builds them; nothing of ours is replaced. A call's hold is read from the kv
counter the charging keeps, its record from the usage table.
"""

from __future__ import annotations

import asyncio
import shutil
import time
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack
from dataclasses import dataclass
from pathlib import Path

import pytest

from relaygate.accounts.principal import Principal
from relaygate.billing.ledger import TOPUP
from relaygate.billing.models import UsageRecord
from relaygate.billing.schemas import UsageQuery
from relaygate.build import build
from relaygate.db.migrate import upgrade
from relaygate.limits.errors import ConcurrencyLimited
from relaygate.relay.canonical import Usage
from relaygate.relay.context import CLIENT_CLOSED, CallContext
from relaygate.relay.dialects.openai_chat.request import CHAT
from relaygate.relay.dialects.registry import OPENAI_CHAT
from relaygate.services import Services
from relaygate.settings import load_settings

MODEL = "gpt-test"
BODY = b'{"model": "gpt-test", "messages": [{"role": "user", "content": "hello there"}]}'
PAYLOAD = {"model": MODEL, "messages": [{"role": "user", "content": "hello there"}]}
TOP_UP = 100_000_000  # micro-units


@dataclass
class World:
    services: Services
    principal: Principal
    calls: int = 0

    def context(self) -> CallContext:
        self.calls += 1
        return CallContext(f"req-{self.calls}", CHAT, "127.0.0.1")

    @property
    def in_flight(self) -> int:
        return self.services.relay.calls.in_flight

    async def held(self) -> int:
        """The user's holds in the kv (what ``Charging.reserve`` adds and releases)."""
        return await self.services.kv.counters.get(f"hold:{self.principal.user_id}")

    async def holds_released(self) -> int:
        """The holds once a release scheduled in the background has run."""
        for _ in range(200):
            if await self.held() == 0:
                return 0
            await asyncio.sleep(0.01)
        return await self.held()

    async def record(self, request_id: str) -> UsageRecord:
        """The call's usage row, once the writer's batch (not durable) is committed."""
        for _ in range(500):
            rows = await self.services.usage.search(UsageQuery(request_id=request_id))
            if rows:
                assert len(rows) == 1
                return rows[0]
            await asyncio.sleep(0.01)
        raise AssertionError(f"no usage row for {request_id}")

    async def balance(self) -> int:
        return (await self.services.ledger.balance(self.principal.user_id)).balance


@pytest.fixture(scope="module")
def migrated(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("db") / "template.db"
    upgrade(f"sqlite:///{path}")
    return path


@pytest.fixture
async def world(migrated: Path, tmp_path: Path) -> AsyncIterator[World]:
    db = tmp_path / "relay.db"
    shutil.copy(migrated, db)
    settings = load_settings(
        database_url=f"sqlite:///{db}", migrate_on_start=False, health_probe_interval=60
    )
    async with AsyncExitStack() as stack:
        services = (await build(settings, stack)).services
        await services.prices.put(MODEL, {"input": 2_000_000_000, "output": 8_000_000_000})
        user = await services.accounts.create_user("lifecycle@example.com")
        await services.ledger.credit(user.id, TOP_UP, TOPUP)
        key = await services.accounts.issue_key(user.id, concurrency_limit=1)
        principal = await services.accounts.authenticate(key.key, time.time())
        yield World(services, principal)


async def test_a_completed_call_is_billed_once_and_counted_out(world: World) -> None:
    ctx = world.context()
    async with world.services.relay.call(ctx) as call:
        assert world.in_flight == 1
        call.identify(world.principal)
        call.admit(PAYLOAD, OPENAI_CHAT)
        await call.limit(10, OPENAI_CHAT.rate_limit_headers)
        await call.reserve(PAYLOAD, BODY, OPENAI_CHAT)
        assert await world.held() > 0
        ctx.usage, ctx.status = Usage(prompt_tokens=100, completion_tokens=50), 200
        await call.finish()
        await call.finish()  # a second finish bills nothing more
    assert world.in_flight == 0
    assert await world.held() == 0
    row = await world.record(ctx.request_id)  # committed by finish: no wait
    assert row.status == 200 and row.amount > 0
    assert await world.balance() == TOP_UP - row.amount


async def test_a_failed_call_is_recorded_unbilled_and_its_hold_released(world: World) -> None:
    ctx = world.context()
    with pytest.raises(RuntimeError):
        async with world.services.relay.call(ctx) as call:
            call.identify(world.principal)
            call.admit(PAYLOAD, OPENAI_CHAT)
            await call.reserve(PAYLOAD, BODY, OPENAI_CHAT)
            ctx.usage = Usage(prompt_tokens=100, completion_tokens=50)
            ctx.fail(502, "the upstream broke off")
            raise RuntimeError("the answer failed")
    assert world.in_flight == 0
    assert await world.holds_released() == 0
    row = await world.record(ctx.request_id)
    assert row.status == 502 and row.amount == 0
    assert await world.balance() == TOP_UP


async def test_a_cancelled_call_is_counted_out_and_billed_for_what_was_delivered(
    world: World,
) -> None:
    ctx, reserved = world.context(), asyncio.Event()

    async def answering() -> None:
        async with world.services.relay.call(ctx) as call:
            call.identify(world.principal)
            call.admit(PAYLOAD, OPENAI_CHAT)
            await call.reserve(PAYLOAD, BODY, OPENAI_CHAT)
            ctx.usage = Usage(prompt_tokens=100, completion_tokens=5, estimated=True)
            ctx.fail(CLIENT_CLOSED, "client disconnected")
            reserved.set()
            await asyncio.Event().wait()  # a stream that never ends

    task = asyncio.create_task(answering())
    await reserved.wait()
    assert world.in_flight == 1
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert world.in_flight == 0
    assert await world.holds_released() == 0
    row = await world.record(ctx.request_id)
    assert row.status == CLIENT_CLOSED and row.amount > 0


async def test_an_unauthenticated_call_leaves_no_record(world: World) -> None:
    ctx = world.context()
    async with world.services.relay.call(ctx):
        assert world.in_flight == 1
    assert world.in_flight == 0
    assert await world.services.usage.search(UsageQuery(request_id=ctx.request_id)) == []


async def test_the_slot_is_scoped_and_a_second_call_is_refused_meanwhile(world: World) -> None:
    first, second = world.context(), world.context()
    async with world.services.relay.call(first) as call, world.services.relay.call(second) as other:
        call.identify(world.principal)
        other.identify(world.principal)
        async with call.slot():
            with pytest.raises(ConcurrencyLimited):
                async with other.slot():
                    pass
        async with other.slot():  # free again
            pass


async def test_a_handed_over_call_is_recorded_once_by_its_new_owner(world: World) -> None:
    ctx = world.context()
    async with world.services.relay.call(ctx) as call:
        call.identify(world.principal)
        call.admit(PAYLOAD, OPENAI_CHAT)
        await call.reserve(PAYLOAD, BODY, OPENAI_CHAT)
        await call.take_slot()
        owned = call.hand_over()
        assert world.in_flight == 2
    assert world.in_flight == 1  # the run's
    second = world.context()
    async with world.services.relay.call(second) as other:
        other.identify(world.principal)
        with pytest.raises(ConcurrencyLimited):  # the run holds the key's one slot
            async with other.slot():
                pass
    owned.ctx.usage, owned.ctx.status = Usage(prompt_tokens=100, completion_tokens=50), 200
    await owned.finish()
    await owned.close()
    await owned.close()  # idempotent: counted out once
    assert world.in_flight == 0
    row = await world.record(ctx.request_id)
    assert row.status == 200 and row.amount > 0
    assert await world.balance() == TOP_UP - row.amount
    async with world.services.relay.call(world.context()) as last:
        last.identify(world.principal)
        async with last.slot():  # the run gave its slot back
            pass
