"""InvoiceService on a migrated database (SQLite, and PostgreSQL under the ``postgres``
marker): which orders can be invoiced, the state machine, numbers that are consecutive and
never reused (also when issues run at once), and another user's invoice or order is a 404.
Orders are written paid (or refunded) straight into the table, as the webhook leaves them."""

from __future__ import annotations

import asyncio
import io
from collections.abc import AsyncIterator, Iterator
from datetime import timedelta
from pathlib import Path

import pytest
from pypdf import PdfReader
from sqlalchemy import select

from relaygate.accounts.models import AuditEntry, User
from relaygate.core.clock import utcnow
from relaygate.core.errors import Conflict, InvalidRequest, NotFound
from relaygate.db.engine import Database
from relaygate.db.migrate import upgrade
from relaygate.payments.invoice_pdf import Issuer
from relaygate.payments.invoices import Buyer, InvoiceService
from relaygate.payments.models import InvoiceCounter, Order
from tests.harness import create_pg_database, drop_pg_database

BUYER = Buyer(
    "深圳市示例科技有限公司", "91440300MA5EXAMPLE", "深圳市南山区 1 号", "招商银行", "6225 8888"
)
ISSUER = Issuer("Relaygate Operator Ltd", "1 Gateway Road", "GB123456789")
YEAR = utcnow().year


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    url = f"sqlite:///{tmp_path}/invoices.db" if request.param == "sqlite" else create_pg_database()
    upgrade(url)  # runs its own event loop: a sync fixture
    yield url
    if request.param != "sqlite":
        drop_pg_database(url)


@pytest.fixture
async def svc(db_url: str) -> AsyncIterator[InvoiceService]:
    db = Database(db_url)
    yield InvoiceService(db, ISSUER, "INV")
    await db.dispose()


async def _user(svc: InvoiceService, email: str) -> int:
    async with svc.db.session() as session, session.begin():
        user = User(email=email)
        session.add(user)
        await session.flush()
        return user.id


async def _order(
    svc: InvoiceService, user_id: int, amount: str = "20", state: str = "paid", **extra: int
) -> int:
    now = utcnow()
    micro = int(amount) * 1_000_000
    async with svc.db.session() as session, session.begin():
        order = Order(
            user_id=user_id,
            provider="stripe",
            method="checkout",
            amount=micro,
            amount_minor=micro // 10_000,
            currency="usd",
            state=state,
            pay_url="",
            receipt_url="",
            refunded_minor=extra.get("refunded_minor", 0),
            disputed_minor=extra.get("disputed_minor", 0),
            created_at=now - timedelta(hours=1),
            updated_at=now,
            paid_at=now if state in ("paid", "refunded") else None,
        )
        session.add(order)
        await session.flush()
        return order.id


async def _actions(svc: InvoiceService) -> list[str]:
    async with svc.db.session() as session:
        rows = await session.scalars(select(AuditEntry).order_by(AuditEntry.id))
        return [r.action for r in rows if r.action.startswith("invoice.")]


async def test_only_clean_paid_orders_of_the_user_can_be_invoiced(svc: InvoiceService) -> None:
    ada = await _user(svc, "ada@example.test")
    bob = await _user(svc, "bob@example.test")
    paid = await _order(svc, ada, "20")
    await _order(svc, ada, "5", state="created")
    await _order(svc, ada, "7", state="expired")
    refunded = await _order(svc, ada, "9", state="refunded", refunded_minor=900)
    disputed = await _order(svc, ada, "11", disputed_minor=1100)
    theirs = await _order(svc, bob, "30")
    assert [o.order_id for o in await svc.invoiceable(ada)] == [paid]
    for order_id in (refunded, disputed):
        with pytest.raises(InvalidRequest):
            await svc.request(ada, [order_id], BUYER)
    with pytest.raises(NotFound):
        await svc.request(ada, [theirs], BUYER)  # another user's order: as if it did not exist
    with pytest.raises(NotFound):
        await svc.request(ada, [999_999], BUYER)


async def test_a_request_needs_organisation_and_tax_id(svc: InvoiceService) -> None:
    ada = await _user(svc, "ada@example.test")
    order = await _order(svc, ada)
    for buyer, field in ((Buyer(" ", "X1"), "organisation"), (Buyer("Acme", ""), "tax_id")):
        with pytest.raises(InvalidRequest) as refused:
            await svc.request(ada, [order], buyer)
        assert refused.value.param == field
    with pytest.raises(InvalidRequest):
        await svc.request(ada, [], BUYER)
    with pytest.raises(InvalidRequest):
        await svc.request(ada, [order], Buyer("Acme", "X1", address="x" * 301))


async def test_an_invoice_covers_several_orders_and_each_order_once(svc: InvoiceService) -> None:
    ada = await _user(svc, "ada@example.test")
    first, second = await _order(svc, ada, "20"), await _order(svc, ada, "50")
    invoice = await svc.request(ada, [second, first, first], BUYER)
    assert invoice.state == "requested" and invoice.number is None
    assert invoice.total == 70_000_000 and invoice.currency == "usd"
    assert [x.order_id for x in invoice.lines] == [first, second]
    assert invoice.buyer == BUYER
    assert await svc.invoiceable(ada) == []
    with pytest.raises(Conflict):
        await svc.request(ada, [first], BUYER)


async def test_cancel_and_reject_free_the_orders_and_are_final(svc: InvoiceService) -> None:
    ada = await _user(svc, "ada@example.test")
    order = await _order(svc, ada)
    asked = await svc.request(ada, [order], BUYER)
    cancelled = await svc.cancel(asked.id, ada)
    assert cancelled.state == "cancelled" and cancelled.decided_at is not None
    again = await svc.request(ada, [order], BUYER)  # the order is free again
    with pytest.raises(InvalidRequest):
        await svc.reject(again.id, "  ", actor_id=None)
    rejected = await svc.reject(again.id, "The tax id does not match the name.", actor_id=None)
    assert rejected.state == "rejected" and rejected.reason.startswith("The tax id")
    for closed in (cancelled, rejected):
        with pytest.raises(Conflict):
            await svc.issue(closed.id, actor_id=None)
        with pytest.raises(Conflict):
            await svc.cancel(closed.id, ada)
    third = await svc.request(ada, [order], BUYER)
    await svc.issue(third.id, actor_id=None)
    with pytest.raises(Conflict):
        await svc.cancel(third.id, ada)  # issued: too late to cancel
    with pytest.raises(Conflict):
        await svc.reject(third.id, "late", actor_id=None)
    assert await _actions(svc) == [
        "invoice.request",
        "invoice.cancel",
        "invoice.request",
        "invoice.reject",
        "invoice.request",
        "invoice.issue",
    ]


async def test_another_users_invoice_is_not_found(svc: InvoiceService) -> None:
    ada = await _user(svc, "ada@example.test")
    bob = await _user(svc, "bob@example.test")
    invoice = await svc.request(ada, [await _order(svc, ada)], BUYER)
    for call in (
        svc.invoice(invoice.id, bob),
        svc.cancel(invoice.id, bob),
        svc.pdf(invoice.id, bob),
    ):
        with pytest.raises(NotFound):
            await call
    assert await svc.invoices(bob) == []
    assert (await svc.invoice(invoice.id, ada)).id == invoice.id
    with pytest.raises(NotFound):
        await svc.pdf(invoice.id, ada)  # not issued yet


async def test_numbers_are_consecutive_and_refusals_take_none(svc: InvoiceService) -> None:
    ada = await _user(svc, "ada@example.test")
    orders = [await _order(svc, ada, str(10 + n)) for n in range(4)]
    asked = [await svc.request(ada, [o], BUYER) for o in orders]
    first = await svc.issue(asked[0].id, actor_id=None)
    await svc.reject(asked[1].id, "Wrong organisation.", actor_id=None)
    with pytest.raises(Conflict):
        await svc.issue(asked[1].id, actor_id=None)  # a refused issue takes no number
    async with svc.db.session() as session, session.begin():  # refunded since the request
        order = await session.get(Order, orders[2])
        assert order is not None
        order.state, order.refunded_minor = "refunded", 100
    with pytest.raises(Conflict):
        await svc.issue(asked[2].id, actor_id=None)
    assert (await svc.invoice(asked[2].id)).state == "requested"  # rolled back whole
    last = await svc.issue(asked[3].id, actor_id=None)
    assert [first.number, last.number] == [f"INV-{YEAR}-000001", f"INV-{YEAR}-000002"]


async def test_concurrent_issues_take_distinct_consecutive_numbers(svc: InvoiceService) -> None:
    ada = await _user(svc, "ada@example.test")
    asked = [await svc.request(ada, [await _order(svc, ada)], BUYER) for _ in range(6)]
    issued = await asyncio.gather(*(svc.issue(a.id, actor_id=None) for a in asked))
    numbers = sorted(str(i.number) for i in issued)
    assert numbers == [f"INV-{YEAR}-{n:06d}" for n in range(1, 7)]
    again = await asyncio.gather(
        *(svc.issue(a.id, actor_id=None) for a in asked[:3]), return_exceptions=True
    )
    assert all(isinstance(e, Conflict) for e in again)  # issuing twice numbers nothing
    async with svc.db.session() as session:
        counter = await session.get(InvoiceCounter, YEAR)
    assert counter is not None and counter.last == 6


async def test_concurrent_requests_for_one_order_make_one_invoice(svc: InvoiceService) -> None:
    ada = await _user(svc, "ada@example.test")
    order = await _order(svc, ada)
    results = await asyncio.gather(
        *(svc.request(ada, [order], BUYER) for _ in range(5)), return_exceptions=True
    )
    made = [r for r in results if not isinstance(r, BaseException)]
    assert len(made) == 1 and all(isinstance(r, Conflict) for r in results if r not in made)
    assert len(await svc.invoices(ada)) == 1


async def test_the_issued_pdf_holds_the_number_buyer_and_total(svc: InvoiceService) -> None:
    ada = await _user(svc, "ada@example.test")
    orders = [await _order(svc, ada, "20"), await _order(svc, ada, "50")]
    issued = await svc.issue((await svc.request(ada, orders, BUYER)).id, actor_id=None)
    found = await svc.pdf(issued.id, ada)
    assert found.filename == f"INV-{YEAR}-000001.pdf" and found.content.startswith(b"%PDF-")
    text = PdfReader(io.BytesIO(found.content)).pages[0].extract_text()
    for expected in (
        f"INV-{YEAR}-000001",
        BUYER.organisation,
        BUYER.tax_id,
        "70.00 USD",
        "20.00",
        "50.00",
        ISSUER.name,
        ISSUER.tax_id,
        BUYER.address,
        "招商银行 6225 8888",
    ):
        assert expected in text, expected
    assert (await svc.pdf(issued.id)).content == found.content  # the operator's download


async def test_issuing_without_an_issuer_name_is_refused(svc: InvoiceService) -> None:
    ada = await _user(svc, "ada@example.test")
    unnamed = InvoiceService(svc.db, Issuer("", "", ""))
    asked = await unnamed.request(ada, [await _order(svc, ada)], BUYER)
    with pytest.raises(Conflict):
        await unnamed.issue(asked.id, actor_id=None)
    assert (await svc.issue(asked.id, actor_id=None)).number == f"INV-{YEAR}-000001"
