"""RuleService on a migrated SQLite database: the order rules run in, what a change tells
the relay side, copies' names, the import's all-or-nothing and its two modes, and the
tier's limits; plus the pure helpers (names, the stored document's round trip)."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from relaygate.accounts.service import AccountService
from relaygate.core.errors import Conflict, InvalidRequest, NotFound
from relaygate.db.engine import Database
from relaygate.db.migrate import upgrade_in_subprocess
from relaygate.rules.limits import LimitConfig
from relaygate.rules.service import (
    RuleQuery,
    RuleService,
    copy_name,
    name_problem,
    rule_doc,
    validate,
    wire,
)


def doc(name: str, **fields: Any) -> Any:
    return validate({"name": name, "actions": [{"type": "remove", "path": "/top_p"}], **fields})


@pytest.fixture
async def db(tmp_path: Path) -> AsyncIterator[Database]:
    url = f"sqlite:///{tmp_path / 'rules.db'}"
    await upgrade_in_subprocess(url)
    database = Database(url)
    yield database
    await database.dispose()


async def _user(db: Database) -> int:
    user = await AccountService(db, 1.0).create_user(f"u-{uuid.uuid4().hex[:8]}@example.test")
    return user.id


async def test_rules_run_by_priority_then_id_and_changes_are_announced(db: Database) -> None:
    changed: list[int] = []

    async def listener(user_id: int) -> None:
        changed.append(user_id)

    rules = RuleService(db, on_change=listener)
    user = await _user(db)
    late = await rules.create(user, doc("late", priority=5), actor_id=user)
    early = await rules.create(user, doc("early", priority=1), actor_id=user)
    tie = await rules.create(user, doc("tie", priority=5), actor_id=user)
    off = await rules.create(user, doc("off", enabled=False), actor_id=user)
    assert [i for i, _ in await rules.enabled_rules(user)] == [early.id, late.id, tie.id]
    assert [r.name for r in (await rules.listing(user, RuleQuery())).rules] == [
        "early", "late", "tie", "off",
    ]  # fmt: skip
    await rules.set_enabled(user, [off.id], True, actor_id=user)
    await rules.delete(user, [late.id], actor_id=user)
    assert changed == [user] * 6


async def test_import_checks_everything_before_writing_anything(db: Database) -> None:
    rules = RuleService(db, LimitConfig(max_rules=3))
    user = await _user(db)
    kept = await rules.create(user, doc("kept", priority=1), actor_id=user)
    with pytest.raises(InvalidRequest) as bad_key:
        await rules.import_rules(
            user, [doc("a"), doc("b", match={"key_ids": [999]})], "overwrite", actor_id=user
        )
    assert bad_key.value.param == "rules[1].match.key_ids[0]"
    with pytest.raises(Conflict):  # 1 + 3 new > 3
        await rules.import_rules(user, [doc("a"), doc("b"), doc("c")], "skip", actor_id=user)
    assert [r.name for r in (await rules.listing(user, RuleQuery())).rules] == ["kept"]
    done = await rules.import_rules(
        user, [doc("kept", priority=7), doc("a")], "skip", actor_id=user
    )
    assert (len(done.created), done.skipped) == (1, ["kept"])
    again = await rules.import_rules(user, [doc("kept", priority=7)], "overwrite", actor_id=user)
    assert again.overwritten == [kept.id]
    assert (await rules.get(user, kept.id)).priority == 7


async def test_limits_by_tier_and_another_users_rule(db: Database) -> None:
    async def tier_of(user_id: int) -> str:
        return "vip"

    config = LimitConfig(max_rules=1, max_actions=1, max_rules_by_tier={"vip": 2})
    rules = RuleService(db, config, tier_of)
    user, other = await _user(db), await _user(db)
    assert (await rules.limits(user)).max_rules == 2
    two = [{"type": "remove", "path": "/a"}, {"type": "remove", "path": "/b"}]
    with pytest.raises(InvalidRequest) as too_many_actions:
        await rules.create(user, doc("x", actions=two), actor_id=user)
    assert too_many_actions.value.param == "actions"
    first = await rules.create(user, doc("x"), actor_id=user)
    await rules.copy(user, first.id, None, actor_id=user)
    with pytest.raises(Conflict):
        await rules.copy(user, first.id, None, actor_id=user)
    with pytest.raises(NotFound):
        await rules.get(other, first.id)
    with pytest.raises(NotFound):
        await rules.update(other, first.id, {"enabled": False}, actor_id=other)


def test_copy_names_count_up_and_fit_64_characters() -> None:
    assert copy_name("pin", set()) == "pin copy"
    assert copy_name("pin", {"pin copy"}) == "pin copy 2"
    assert copy_name("pin copy 2", {"pin copy", "pin copy 2"}) == "pin copy 3"
    long = "x" * 64
    assert copy_name(long, set()) == "x" * 59 + " copy"


def test_name_problems_are_the_documents_own() -> None:
    assert name_problem("fine name_1.2-3 名字") is None
    assert name_problem("a/b") and name_problem("") and name_problem("x" * 65)


def test_a_stored_rule_reads_back_as_it_was_written() -> None:
    from relaygate.rules.models import OverrideRule
    from relaygate.rules.service import document_of

    written = doc(
        "r",
        match={"conditions": [{"path": "/stream", "op": "exists"}]},
        actions=[
            {"type": "set", "path": "/x", "value": None},
            {"type": "clamp", "path": "/n", "max": 3},
        ],
    )
    row = OverrideRule(
        name="r", description="", enabled=True, priority=100, document=document_of(written)
    )
    assert row.document["actions"] == [
        {"type": "set", "path": "/x", "value": None},
        {"type": "clamp", "path": "/n", "max": 3},
    ]
    assert rule_doc(row) == written
    assert wire(row)["match"] == {"conditions": [{"path": "/stream", "op": "exists"}]}
