"""TierConfig on a migrated SQLite file and the in-process kv: a save wins over the
settings, a reset brings them back, each change is an audit line with before and after,
and a second instance (another replica) picks a change up through the version counter."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from relaygate.accounts.audit import AuditTrail
from relaygate.accounts.service import AccountService
from relaygate.billing.models import PlatformConfig
from relaygate.billing.packages import PackageService
from relaygate.billing.tier_config import VERSION_KEY, TierConfig
from relaygate.billing.tier_rules import DEFAULT_TABLES, RpmTier
from relaygate.core.errors import InvalidRequest
from relaygate.db.engine import Database
from relaygate.db.migrate import upgrade
from relaygate.kv.memory import MemoryKV

RPM = [{"min_topup": "0", "rpm": 7}, {"min_topup": "5", "rpm": 70}]


@dataclass
class World:
    db: Database
    kv: MemoryKV
    tiers: TierConfig
    operator_id: int

    def replica(self) -> TierConfig:
        """Another process on the same database and kv."""
        return TierConfig(self.db, self.kv.counters, DEFAULT_TABLES, PackageService(self.db))


@pytest.fixture
def db_url(tmp_path: Path) -> str:
    url = f"sqlite:///{tmp_path}/tiers.db"
    upgrade(url)
    return url


@pytest.fixture
async def world(db_url: str) -> AsyncIterator[World]:
    db = Database(db_url)
    kv = MemoryKV()
    boot = await AccountService(db, 1.0).bootstrap("op@example.test", None)
    tiers = TierConfig(db, kv.counters, DEFAULT_TABLES, PackageService(db))
    await tiers.load()
    yield World(db, kv, tiers, boot.operator.id)
    await kv.close()
    await db.dispose()


async def test_the_settings_apply_until_a_save_wins(world: World) -> None:
    assert world.tiers.current == DEFAULT_TABLES
    saved = await world.tiers.save({"rate_limit_tiers": RPM}, actor_id=world.operator_id)
    assert saved.rpm == (RpmTier(0, 7), RpmTier(5_000_000, 70))
    assert world.tiers.current is saved  # this replica at once
    assert saved.stored == frozenset({"rate_limit_tiers"})
    assert saved.membership == DEFAULT_TABLES.membership  # other sections untouched
    view = await world.tiers.view()
    state = view.state("rate_limit_tiers")
    assert state.stored and state.updated_by == world.operator_id and state.updated_at
    assert not view.state("membership_tiers").stored


async def test_a_reset_brings_the_default_back(world: World) -> None:
    await world.tiers.save({"rate_limit_tiers": RPM}, actor_id=world.operator_id)
    reset = await world.tiers.reset("rate_limit_tiers", actor_id=world.operator_id)
    assert reset.rpm == DEFAULT_TABLES.rpm and reset.stored == frozenset()
    # resetting what is not stored changes nothing and writes no line
    await world.tiers.reset("rate_limit_tiers", actor_id=world.operator_id)
    actions = [line.action for line in (await AuditTrail(world.db).list_all()).lines]
    assert actions[:2] == ["tiers.reset", "tiers.edit"]


async def test_each_change_is_an_audit_line_with_before_and_after(world: World) -> None:
    await world.tiers.save({"rate_limit_tiers": RPM}, actor_id=world.operator_id)
    await world.tiers.reset("rate_limit_tiers", actor_id=world.operator_id)
    reset, edit = (await AuditTrail(world.db).list_all()).lines[:2]
    assert edit.actor_id == world.operator_id and edit.subject_user_id is None
    assert edit.detail["section"] == "rate_limit_tiers"
    assert edit.detail["before_source"] == "settings"
    assert edit.detail["before"][0] == {"min_topup": "0.000000", "rpm": 60}
    assert edit.detail["after"] == [
        {"min_topup": "0.000000", "rpm": 7},
        {"min_topup": "5.000000", "rpm": 70},
    ]
    assert reset.detail["before"] == edit.detail["after"]
    assert reset.detail["after"][0]["rpm"] == 60


async def test_a_bad_section_is_refused_whole_and_nothing_is_stored(world: World) -> None:
    membership = [{"level": "vip", "min_topup": "1", "months": 1}]
    bad_rpm = [{"min_topup": "0", "rpm": 7}, {"min_topup": "0", "rpm": 8}]
    with pytest.raises(InvalidRequest) as refused:
        await world.tiers.save(
            {"membership_tiers": membership, "rate_limit_tiers": bad_rpm}, actor_id=None
        )
    assert refused.value.param == "rate_limit_tiers[1].min_topup"
    assert (await world.tiers.view()).tables.stored == frozenset()
    with pytest.raises(InvalidRequest) as unknown:
        await world.tiers.save({"colours": []}, actor_id=None)
    assert unknown.value.param == "section"


async def test_the_referral_package_type_must_exist(world: World) -> None:
    terms = {"package_type": "Welcome pack", "denied_domains": ["spam.test"], "redeem_days": 3}
    with pytest.raises(InvalidRequest) as refused:
        await world.tiers.save({"referral": terms}, actor_id=None)
    assert refused.value.param == "referral.package_type"
    await PackageService(world.db).create_type(
        {"name": "Welcome pack", "amount": 5_000_000, "scope_routes": [], "scope_models": []}
    )
    saved = await world.tiers.save({"referral": terms}, actor_id=None)
    assert saved.referral.package_type == "Welcome pack"
    assert saved.referral.denied_domains == ("spam.test",)
    assert saved.referral.redeem_days == 3


async def test_another_replica_sees_a_save_after_a_check(world: World) -> None:
    other = world.replica()
    await other.load()
    refresher = asyncio.create_task(other.refresh_every(0.01))
    try:
        await world.tiers.save({"rate_limit_tiers": RPM}, actor_id=None)
        assert await world.kv.counters.get(VERSION_KEY) == 1
        for _ in range(500):  # polled: the refresh runs every 10 ms
            if other.current.rpm[0].rpm == 7:
                break
            await asyncio.sleep(0.01)
        assert other.current.rpm == world.tiers.current.rpm
    finally:
        refresher.cancel()


async def test_a_stored_row_that_no_longer_passes_is_ignored(world: World) -> None:
    await world.tiers.save({"rate_limit_tiers": RPM}, actor_id=None)
    async with world.db.session() as session, session.begin():
        row = await session.get(PlatformConfig, "rate_limit_tiers")
        assert row is not None
        row.value = [{"min_topup": "3", "rpm": 1}]  # edited by hand: no tier at 0
    tables = await world.tiers.load()
    assert tables.rpm == DEFAULT_TABLES.rpm and tables.stored == frozenset()
