"""Every bill line's explanation equals its billed amount: many random calls priced by
the real ``Charging`` (packages first, free balance, every multiplier), written by the
real bill writer into a real SQLite database, then explained from the stored rows."""

from __future__ import annotations

import asyncio
import random
from decimal import Decimal
from pathlib import Path

from sqlalchemy import select

from relaygate.accounts.principal import Principal
from relaygate.accounts.service import AccountService
from relaygate.billing.catalogue import Catalogue, CatalogueService
from relaygate.billing.charge_explain import explain
from relaygate.billing.charging import Charging
from relaygate.billing.ledger import LedgerService
from relaygate.billing.models import UsageRecord
from relaygate.billing.packages import PackageService
from relaygate.billing.usage_row import UsageRow
from relaygate.billing.writer import Bill, BillWriter
from relaygate.core.clock import utcnow
from relaygate.core.units import Usage
from relaygate.db.engine import Database
from relaygate.db.migrate import upgrade
from relaygate.kv.memory import MemoryKV

CALLS = 400
ROUTES = ("", "cc-omg", "codex-omg")
GROUPS = ("", "gold", "odd")


def _row(
    rid: str, principal: Principal, model: str, route: str, units: Usage, money: object
) -> UsageRow:
    from relaygate.billing.charging import Charge

    assert isinstance(money, Charge)
    rates = money.multipliers
    return UsageRow(
        request_id=rid, created_at=utcnow(), user_id=principal.user_id, key_id=None,
        model=model, upstream_model=model, channel_id=None, endpoint="chat/completions",
        status=200, stream=False, prompt_tokens=units.prompt_tokens,
        completion_tokens=units.completion_tokens, cached_tokens=units.cached_tokens,
        reasoning_tokens=units.reasoning_tokens, usage_estimated=False, rurt_ms=0,
        ttfb_ms=None, duration_ms=0, client_ip="", error=None,
        official_cost=money.official, amount=money.amount, free_amount=money.free,
        multiplier=str(money.multiplier), package_amount=money.package_total, attempts=1,
        images=units.images, characters=units.characters, audio_ms=units.audio_ms,
        route_group=route, model_multiplier=str(rates.model), route_multiplier=str(rates.route),
        tier_multiplier=str(rates.tier), group_multiplier=str(rates.group),
    )  # fmt: skip


def _units(rng: random.Random) -> Usage:
    prompt = rng.choice([0, 1, 7, rng.randrange(1, 200_000)])
    completion = rng.choice([0, 1, rng.randrange(1, 50_000)])
    media = rng.random() < 0.2
    return Usage(
        prompt_tokens=prompt,
        completion_tokens=completion,
        cached_tokens=rng.randrange(0, prompt + 1),
        reasoning_tokens=rng.randrange(0, completion + 1),
        images=rng.randrange(0, 4) if media else 0,
        characters=rng.randrange(0, 5000) if media else 0,
        audio_ms=rng.randrange(0, 90_000) if media else 0,
    )


async def _setup(db: Database, rng: random.Random) -> tuple[Charging, list[Principal], list[str]]:
    catalogue = Catalogue(
        {"cc-omg": Decimal("0.2"), "codex-omg": Decimal("0.35")},
        Decimal("0.5"),
        {"gold": Decimal("0.85"), "odd": Decimal("1.07")},
    )
    prices = CatalogueService(db, catalogue)
    models = []
    for i, multiplier in enumerate(("1", "1.5", "0.333", "2.718281")):
        model = f"m{i}"
        fields = {
            "input": rng.randrange(1, 20_000_000), "output": rng.randrange(1, 80_000_000),
            "cached_input": rng.choice([None, rng.randrange(1, 5_000_000)]),
            "reasoning": rng.choice([None, rng.randrange(1, 90_000_000)]),
            "per_call": rng.choice([0, 7, 1234]), "per_image": rng.choice([0, 40_000]),
            "per_character": rng.choice([0, 15_000_000]), "per_second": rng.choice([0, 100]),
            "multiplier": multiplier, "flex": i % 2 == 0,
        }  # fmt: skip
        await prices.put(model, fields)
        models.append(model)
    writer = BillWriter(db, 64)
    writer.start()
    ledger, packages = LedgerService(db), PackageService(db)
    charging = Charging(ledger, catalogue, writer, MemoryKV().counters, 1.0, packages)
    accounts = AccountService(db, 0)
    principals = []
    for n, group in enumerate(GROUPS):
        user = await accounts.create_user(
            f"rand{n}-{rng.randrange(10**9)}@example.test", group=group
        )
        await ledger.credit(user.id, 10**12, "topup")
        await ledger.credit(user.id, rng.randrange(1, 3_000_000), "free_grant")
        kind = await packages.create_type(
            {"name": f"p{user.id}", "amount": rng.randrange(1, 400_000),
             "scope_models": ["m0", "m2"], "scope_routes": [], "validity_days": 5}
        )  # fmt: skip
        await packages.grant(user.id, kind.id)
        principals.append(Principal(user.id, 0, False, False, None, None, group=group))
    return charging, principals, models


async def _run(url: str) -> list[tuple[int, int, bool, int]]:
    rng = random.Random(20261207)
    db = Database(url)
    charging, principals, models = await _setup(db, rng)
    catalogue = charging.catalogue
    for n in range(CALLS):
        principal, model = rng.choice(principals), rng.choice(models)
        route, tier = rng.choice(ROUTES), rng.choice([None, "flex"])
        units = _units(rng)
        held = await charging.reserve(principal, model, route, tier, Usage(prompt_tokens=10))
        money = charging.price(held, units)
        row = _row(f"rand-{n}-{rng.randrange(10**9)}", principal, model, route, units, money)
        bill = Bill(row, principal.user_id, None, row.request_id, money.paid, money.free)
        bill.packages = money.packages
        await charging.settle(held, bill, durable=True)
    await charging.writer.close()
    async with db.session() as session:
        rows = list(await session.scalars(select(UsageRecord)))
    await db.dispose()
    out = []
    for row in rows:
        told = explain(row, catalogue.rated(row.model).price)
        out.append(
            (told.derived_amount, row.amount, told.official_recomputed, told.package_covered)
        )
    return out


def test_explanations_equal_billed_amounts(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'explain.db'}"
    upgrade(url)
    results = asyncio.run(_run(url))
    assert len(results) == CALLS
    assert all(recomputed for _, _, recomputed, _ in results)
    mismatched = [(d, b) for d, b, _, _ in results if d != b]
    assert mismatched == []
    assert any(covered > 0 for *_, covered in results)  # packages paid some lines
    assert any(covered == 0 and billed > 0 for _, billed, _, covered in results)
