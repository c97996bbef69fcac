"""The console's read models on a real database (SQLite and PostgreSQL), over data made
through the gateway's own routes: relayed calls billed by the bill writer, credits and
grants by the operator API. Each read model is built here on the gateway's database and
checked against what the routes report (the usage listing, the ledger)."""

from __future__ import annotations

import csv
import io
import uuid
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any, TypeVar

import pytest

from relaygate.billing.bills_export import bill_csv
from relaygate.billing.bills_view import BillFilters, BillsView
from relaygate.billing.catalogue import Catalogue, CatalogueService
from relaygate.billing.charge_explain import explain
from relaygate.billing.dashboard import DashboardQueries
from relaygate.billing.invites_view import InvitesView
from relaygate.billing.overview import OverviewQueries
from relaygate.billing.packages_view import PackagesView
from relaygate.billing.prices_view import PricesView
from relaygate.billing.users_view import UsersView
from relaygate.core.errors import NotFound
from relaygate.core.money import parse_money
from relaygate.db.engine import Database
from relaygate.relay.groups import ROUTE_GROUPS
from tests.fakes.openai_payloads import Behaviour
from tests.fakes.openai_upstream import FakeOpenAI
from tests.harness import Gateway, IssuedKey, run_sync
from tests.integration.test_money import USER, chat, priced_model, record_of
from tests.integration.test_signup_referral import invite_of, referral_packages, sign_in

T = TypeVar("T")


def _on_db(gw: Gateway, work: Callable[[Database], Awaitable[T]]) -> T:
    async def run() -> T:
        db = Database(gw.db_url)
        try:
            return await work(db)
        finally:
            await db.dispose()

    return run_sync(run())


def _grouped_chat(gw: Gateway, key: str, model: str) -> Any:
    with gw.http(key) as http:
        path = ROUTE_GROUPS["cc-omg"] + "/v1/chat/completions"
        return http.post(path, json={"model": model, "messages": USER})


def _package_type(gw: Gateway, amount: str, models: list[str]) -> int:
    body = {"name": f"pkg-{uuid.uuid4().hex[:8]}", "amount": amount, "scope_models": models}
    return int(gw.op("POST", "/package-types", json=body)["id"])


def _world(gw: Gateway, fake: FakeOpenAI) -> tuple[IssuedKey, str, str, list[dict[str, Any]]]:
    """A user with a key, two priced models, calls on /v1 and a route group, one failed."""
    model = priced_model(gw, fake, input="2.00", output="8.00", multiplier="1.5")
    other = priced_model(gw, fake, input="1.00", output="3.00")
    fake.default = Behaviour(prompt_tokens=1000, completion_tokens=500)
    key = gw.make_user_key()
    records = [record_of(gw, chat(gw, key.key, model)) for _ in range(3)]
    records.append(record_of(gw, _grouped_chat(gw, key.key, other)))
    records.append(record_of(gw, chat(gw, key.key, other, stream=True)))
    return key, model, other, records


def test_dashboard_sums_the_calls_of_the_month(gateway: Gateway, fake: FakeOpenAI) -> None:
    key, model, other, records = _world(gateway, fake)
    board = _on_db(gateway, lambda db: DashboardQueries(db).for_user(key.user_id))
    spent = sum(r["amount"] for r in records)
    assert len(board.spend_per_day) == 30
    assert board.spend_per_day[-1].day == datetime.now(UTC).date()
    assert sum(d.amount for d in board.spend_per_day) == spent > 0
    assert sum(d.calls for d in board.spend_per_day) == len(records)
    uses = {u.model: u for u in board.by_model}
    assert set(uses) == {model, other}
    assert uses[model].calls == 3 and uses[model].prompt_tokens == 3000
    assert uses[other].completion_tokens == sum(
        r["completion_tokens"] for r in records if r["model"] == other
    )
    assert board.balance == parse_money("100") - spent  # make_user_key credits 100
    assert board.topped_up_total == parse_money("100")
    assert board.membership == "vip"  # 100 topped up: six months of VIP
    assert board.rpm.rpm == 1000 and board.rpm.next_rpm == 10000
    assert board.rpm.topup_to_next == parse_money("200")
    with pytest.raises(NotFound):
        _on_db(gateway, lambda db: DashboardQueries(db).for_user(2_000_000_000))


def test_bills_page_filters_and_keyset(gateway: Gateway, fake: FakeOpenAI) -> None:
    key, model, other, records = _world(gateway, fake)
    stranger = gateway.make_user_key()

    async def read(db: Database) -> dict[str, Any]:
        view = BillsView(db)
        pages, page = [], await view.page(key.user_id, limit=2)
        pages.append(page)
        while page.next is not None:
            page = await view.page(key.user_id, limit=2, after=page.next)
            pages.append(page)
        grouped = await view.page(key.user_id, BillFilters(route_group="cc-omg"))
        plain = await view.page(key.user_id, BillFilters(route_group="", model=other))
        by_model = await view.page(key.user_id, BillFilters(model=model, key_id=key.id))
        with pytest.raises(NotFound):
            await view.page(key.user_id, BillFilters(key_id=stranger.id))
        with pytest.raises(NotFound):
            await view.record(stranger.user_id, pages[0].rows[0].id)
        return {"pages": pages, "grouped": grouped, "plain": plain, "by_model": by_model}

    got = _on_db(gateway, read)
    ids = [row.request_id for page in got["pages"] for row in page.rows]
    assert ids == [r["request_id"] for r in reversed(records)]  # newest first, all, once
    assert [len(p.rows) for p in got["pages"]] == [2, 2, 1]
    [grouped] = got["grouped"].rows
    assert grouped.route_group == "cc-omg" and grouped.multiplier == "0.2"
    assert [r.route_group for r in got["plain"].rows] == [""]
    assert len(got["by_model"].rows) == 3
    first = got["pages"][0].rows[0]
    assert (first.prompt_tokens, first.amount) == (
        records[-1]["prompt_tokens"],
        records[-1]["amount"],
    )


def test_charge_explanation_equals_every_billed_amount(gateway: Gateway, fake: FakeOpenAI) -> None:
    key, model, other, records = _world(gateway, fake)
    type_id = _package_type(gateway, "0.004", [model])  # covers part of one call
    gateway.op("POST", f"/users/{key.user_id}/packages", json={"type_id": type_id})
    gateway.op("PATCH", f"/users/{key.user_id}", json={"group": "console-vip"})
    records += [record_of(gateway, chat(gateway, key.key, model)) for _ in range(2)]

    async def read(db: Database) -> list[Any]:
        catalogue = Catalogue({"cc-omg": Decimal("0.2")}, Decimal("0.5"))
        await CatalogueService(db, catalogue).publish()
        view = BillsView(db)
        rows = [
            await view.record(key.user_id, (await view.page(key.user_id, limit=50)).rows[i].id)
            for i in range(len(records))
        ]
        return [explain(row, catalogue.rated(row.model).price) for row in rows]

    explained = _on_db(gateway, read)
    assert any(e.package_covered > 0 for e in explained)
    assert all(e.exact for e in explained), [e for e in explained if not e.exact]
    assert all(e.official_recomputed for e in explained)
    billed = {r["request_id"]: r["amount"] for r in records}
    assert sorted(e.billed_amount for e in explained) == sorted(billed.values())


def test_csv_export_streams_the_filtered_range(gateway: Gateway, fake: FakeOpenAI) -> None:
    model = priced_model(gateway, fake, input="1.00", output="1.00")
    fake.default = Behaviour(prompt_tokens=10, completion_tokens=5)
    key = gateway.make_user_key(remark="=HYPERLINK(evil)")
    records = [record_of(gateway, chat(gateway, key.key, model)) for _ in range(3)]

    async def export(db: Database) -> str:
        return "".join([chunk async for chunk in bill_csv(BillsView(db), key.user_id)])

    text = _on_db(gateway, export)
    rows = list(csv.DictReader(io.StringIO(text)))
    assert [r["requestId"] for r in rows] == [r["request_id"] for r in reversed(records)]
    assert {r["keyRemark"] for r in rows} == {"'=HYPERLINK(evil)"}
    assert rows[0]["amount"] == f"0.{records[-1]['amount']:06d}"
    assert rows[0]["promptTokens"] == "10" and rows[0]["Free"] == "false"


def test_packages_and_their_draws(gateway: Gateway, fake: FakeOpenAI) -> None:
    model = priced_model(gateway, fake, input="1.00", output="1.00")
    fake.default = Behaviour(prompt_tokens=1000, completion_tokens=1000)  # 0.002 a call
    key = gateway.make_user_key()
    type_id = _package_type(gateway, "1", [model])
    granted = gateway.op("POST", f"/users/{key.user_id}/packages", json={"type_id": type_id})
    records = [record_of(gateway, chat(gateway, key.key, model)) for _ in range(3)]
    other = gateway.make_user_key()

    async def read(db: Database) -> Any:
        view = PackagesView(db)
        lines = await view.packages(key.user_id)
        first = await view.draws(key.user_id, int(granted["id"]), limit=2)
        assert first.next is not None
        second = await view.draws(key.user_id, int(granted["id"]), limit=2, after=first.next)
        with pytest.raises(NotFound):
            await view.draws(other.user_id, int(granted["id"]))
        return lines, first.draws + second.draws

    lines, draws = _on_db(gateway, read)
    [line] = lines
    assert line.remaining == parse_money("1") - 3 * 2000 and line.used == 6000 and line.active
    assert [d.request_id for d in draws] == [r["request_id"] for r in reversed(records)]
    assert {d.amount for d in draws} == {2000} and {d.model for d in draws} == {model}


def test_prices_predict_a_real_charge(gateway: Gateway, fake: FakeOpenAI) -> None:
    model = priced_model(gateway, fake, input="2.50", output="10.00", multiplier="1.3")
    fake.default = Behaviour(prompt_tokens=1234, completion_tokens=567)
    key = gateway.make_user_key()
    record = record_of(gateway, chat(gateway, key.key, model))
    grouped = record_of(gateway, _grouped_chat(gateway, key.key, model))

    async def read(db: Database) -> Any:
        catalogue = Catalogue(
            {"cc-omg": Decimal("0.2"), "codex-omg": Decimal("0.2")}, Decimal("0.5")
        )
        await CatalogueService(db, catalogue).publish()
        view = PricesView(db, catalogue)
        lines = await view.for_user(key.user_id, permissions=[model, "not-a-model"])
        plain = await view.predict(key.user_id, model, 1234, 567)
        in_group = await view.predict(key.user_id, model, 1234, 567, route_group="cc-omg")
        return lines, plain, in_group

    lines, plain, in_group = _on_db(gateway, read)
    [line] = lines
    assert line.model == model and line.effective[""] == Decimal("1.3")
    assert line.effective["cc-omg"] == Decimal("1.3") * Decimal("0.2")
    assert plain.amount == record["amount"] and plain.official_cost == record["official_cost"]
    assert in_group.amount == grouped["amount"]


def test_invitees_masked_with_rewards(gateway: Gateway) -> None:
    inviter = sign_in(gateway, f"inviter-{uuid.uuid4().hex[:6]}@example.test")["user_id"]
    code = invite_of(gateway, inviter)["code"]
    names = [f"friend{uuid.uuid4().hex[:6]}@example.test" for _ in range(2)]
    for name in names:
        sign_in(gateway, name, invite_code=code)
    lines = _on_db(gateway, lambda db: InvitesView(db).invitees(inviter))
    assert [line.masked_email for line in lines] == [f"{n[:2]}***@example.test" for n in names]
    assert all(line.rewarded for line in lines)
    rewards = [line.reward for line in lines]
    assert all(r is not None for r in rewards)
    granted = {int(p["id"]) for p in referral_packages(gateway, inviter)}
    assert {r.package_id for r in rewards if r is not None} == granted and len(granted) == 2


def test_operator_users_and_ledger(gateway: Gateway) -> None:
    tag = uuid.uuid4().hex[:8]
    ids = [int(gateway.create_user(email=f"find-{tag}-{i}@example.test")["id"]) for i in range(3)]
    for amount in ("1", "2", "3"):
        gateway.credit(ids[0], amount)

    async def read(db: Database) -> Any:
        view = UsersView(db)
        first = await view.search(tag.upper(), limit=2)
        rest = await view.search(tag, limit=2, after=first.next)
        by_id = await view.search(str(ids[1]))
        ledger1 = await view.ledger(ids[0], limit=2)
        ledger2 = await view.ledger(ids[0], limit=2, after=ledger1.next)
        return first, rest, by_id, ledger1, ledger2

    first, rest, by_id, ledger1, ledger2 = _on_db(gateway, read)
    assert [u.id for u in first.users + rest.users] == sorted(ids, reverse=True)
    assert rest.next is None
    assert ids[1] in [u.id for u in by_id.users]
    assert first.users[-1].balance == 0 and rest.users[0].balance == parse_money("6")
    amounts = [e.amount for e in ledger1.entries + ledger2.entries]
    assert amounts == [parse_money("3"), parse_money("2"), parse_money("1")]
    assert ledger2.next is None


def test_overview_counts_calls_errors_and_money(gateway: Gateway, fake: FakeOpenAI) -> None:
    async def snapshot(db: Database) -> Any:
        return await OverviewQueries(db).overview()

    before = _on_db(gateway, snapshot)
    key, model, other, records = _world(gateway, fake)
    fake.script(model, Behaviour(status=500))
    failed = chat(gateway, key.key, model)
    assert failed.status_code >= 500
    record_of(gateway, failed)
    after = _on_db(gateway, snapshot)
    spent = sum(r["amount"] for r in records)
    calls = len(records) + 1
    assert after.errors_last_day.calls - before.errors_last_day.calls >= calls
    assert after.errors_last_day.failed - before.errors_last_day.failed >= 1
    assert (
        sum(m.calls for m in after.calls_per_minute) - sum(m.calls for m in before.calls_per_minute)
        >= calls - 1
    )  # a minute may have rolled out of the hour meanwhile
    assert (
        sum(d.spend for d in after.money_per_day) - sum(d.spend for d in before.money_per_day)
        >= spent
    )
    assert sum(d.topped_up for d in after.money_per_day) - sum(
        d.topped_up for d in before.money_per_day
    ) >= parse_money("100")
    assert model in {m.model for m in after.top_models} or len(after.top_models) == 10
