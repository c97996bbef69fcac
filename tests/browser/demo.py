"""A gateway with demo data, for the pass over every console page (test_console_sweep.py)
and the README's screenshots (console_shots.py).

One customer (``ada@…``) with two keys, a resource package and two weeks of calls (the
history is written through the bill writer itself, so the roll-up, ledger and key
counters agree with the records; today's calls go through the relay), channels on a fake
OpenAI upstream, priced models, and the operator.
"""

from __future__ import annotations

import random
import uuid
from contextlib import ExitStack
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

from relaygate.billing.usage_row import UsageRow
from relaygate.billing.writer import Bill, BillWriter
from relaygate.core.clock import utcnow
from relaygate.db.engine import Database
from relaygate.payments.invoice_pdf import Issuer
from relaygate.payments.invoices import Buyer, InvoiceService
from relaygate.payments.models import Order
from tests.fakes.openai_payloads import Behaviour
from tests.fakes.openai_upstream import FakeOpenAI
from tests.harness import Gateway, run_sync, start_gateway

__all__ = ["CUSTOMER", "OPERATOR", "Demo", "start_demo"]

OPERATOR = "operator@example.test"
CUSTOMER = "ada@example.test"
ECHO = "relaygate-echo"
# official prices per million tokens (currency units)
PRICES = {
    "gpt-4o-mini": ("0.15", "0.6"),
    "gpt-4o": ("2.5", "10"),
    "claude-sonnet-4": ("3", "15"),
    ECHO: ("1", "2"),
}
DAYS = 14


@dataclass
class Demo:
    """The running gateway and the ids a page URL needs."""

    gateway: Gateway
    user_id: int
    key_id: int
    bill_id: int
    package_id: int
    channel_id: int
    stack: ExitStack = field(default_factory=ExitStack)

    def stop(self) -> None:
        self.gateway.stop()
        self.stack.close()

    def fill(self, path: str) -> str:
        """``/console/bills/{bill}`` with this demo's ids."""
        return path.format(
            user=self.user_id,
            key=self.key_id,
            bill=self.bill_id,
            package=self.package_id,
            channel=self.channel_id,
        )


def _cost(model: str, prompt: int, completion: int) -> int:
    """Micro-units at official prices: a price per million tokens is micro-units per token."""
    price_in, price_out = PRICES[model]
    return int(Decimal(price_in) * prompt + Decimal(price_out) * completion)


def _row(user_id: int, key_id: int, model: str, at: datetime, rng: random.Random) -> UsageRow:
    prompt, completion = rng.randint(300, 6000), rng.randint(50, 1500)
    cost = _cost(model, prompt, completion)
    return UsageRow(
        request_id=f"demo-{uuid.uuid4().hex[:16]}", created_at=at, user_id=user_id,
        key_id=key_id, model=model, upstream_model=model, channel_id=None,
        endpoint="chat", status=200, stream=rng.random() < 0.5, prompt_tokens=prompt,
        completion_tokens=completion, cached_tokens=0, reasoning_tokens=0,
        usage_estimated=False, rurt_ms=rng.randint(300, 2500), ttfb_ms=rng.randint(150, 600),
        duration_ms=rng.randint(800, 9000), client_ip="203.0.113.7", error=None,
        official_cost=cost, amount=cost, free_amount=0, multiplier="1", package_amount=0,
        attempts=1, images=0, characters=0, audio_ms=0, route_group="",
        model_multiplier="1", route_multiplier="1", tier_multiplier="1", group_multiplier="1",
    )  # fmt: skip


def _history(gateway: Gateway, user_id: int, key_ids: list[int]) -> None:
    """Two weeks of past calls, committed by the bill writer (balance, key counters and the
    daily roll-up move with them, as for a relayed call)."""
    rng = random.Random(13)
    now = datetime.now(UTC).replace(minute=0, second=0, microsecond=0)
    models = ["gpt-4o-mini", "gpt-4o-mini", "gpt-4o", "claude-sonnet-4"]
    moments = [
        now - timedelta(days=day, hours=rng.randint(0, 20))
        for day in range(DAYS, 0, -1)
        for _ in range(rng.randint(4, 16))
    ]
    rows = [_row(user_id, rng.choice(key_ids), rng.choice(models), at, rng) for at in moments]

    async def write() -> None:
        db = Database(gateway.db_url)
        writer = BillWriter(db, batch_size=100)
        writer.start()
        try:
            waits = [
                writer.submit(
                    Bill(row, user_id, row.key_id, row.request_id, paid=row.amount), durable=True
                )
                for row in rows
            ]
            for wait in waits:
                assert wait is not None
                await wait
        finally:
            await writer.close()
            await db.dispose()

    run_sync(write())


def _invoices(gateway: Gateway, user_id: int) -> None:
    """Three paid top-ups (written paid, as the webhook leaves them): one invoiced and
    issued, one waiting in the operator's queue, one free to invoice."""

    async def write() -> None:
        db = Database(gateway.db_url)
        try:
            ids = []
            async with db.session() as session, session.begin():
                for amount in (20, 50, 10):
                    now = utcnow()
                    order = Order(
                        user_id=user_id, provider="stripe", method="checkout",
                        amount=amount * 1_000_000, amount_minor=amount * 100, currency="usd",
                        state="paid", pay_url="", receipt_url="", refunded_minor=0,
                        disputed_minor=0, created_at=now, updated_at=now, paid_at=now,
                    )  # fmt: skip
                    session.add(order)
                    await session.flush()
                    ids.append(order.id)
            invoices = InvoiceService(db, Issuer("Demo Operator Ltd", "1 Gateway Road", "GB1"))
            buyer = Buyer("Lovelace Analytics Ltd", "GB987654321", "12 Engine Street, London")
            issued = await invoices.request(user_id, [ids[0]], buyer)
            await invoices.issue(issued.id, actor_id=None)
            await invoices.request(user_id, [ids[1]], buyer)
        finally:
            await db.dispose()

    run_sync(write())


def _relay_calls(gateway: Gateway, upstream: FakeOpenAI, keys: list[str]) -> None:
    upstream.default = Behaviour(
        text="A relay gateway stands between your code and the model providers: one key, "
        "one bill, and the calls routed to whichever upstream is healthy.",
        prompt_tokens=1200,
        completion_tokens=340,
    )
    for n, (key, model) in enumerate(
        [(keys[0], "gpt-4o-mini"), (keys[0], "gpt-4o"), (keys[1], ECHO), (keys[0], "gpt-4o-mini")]
    ):
        gateway.openai(key).chat.completions.create(
            model=model, messages=[{"role": "user", "content": f"Summarise report #{n + 1}"}]
        )


def _files(gateway: Gateway, key: str) -> None:
    """Two stored files, one public (its link and copy button on the files page)."""
    files = (
        ("q4-report.pdf", b"%PDF-1.7\n" + bytes(4000), "application/pdf", "false", "work"),
        ("team-photo.png", b"\x89PNG\r\n\x1a\n" + bytes(20000), "image/png", "true", "team"),
    )
    with gateway.http(key) as http:
        for name, data, mime, public, tag in files:
            sent = http.post(
                "/api/v1/user/files/upload",
                files={"file": (name, data, mime)},
                data={"purpose": "2", "is_public": public, "tags": tag},
            )
            assert sent.status_code == 200, sent.text


def start_demo(directory: Path, **settings: Any) -> Demo:
    """Start the demo gateway (SQLite under ``directory``) and fill it."""
    stack = ExitStack()
    upstream = stack.enter_context(FakeOpenAI())
    gateway = start_gateway(
        f"sqlite:///{directory}/demo.db",
        operator_email=OPERATOR,
        login_per_address_per_minute=0,
        login_per_ip_per_minute=0,
        login_per_ip_per_hour=0,
        **settings,
    )
    for model, (price_in, price_out) in PRICES.items():
        gateway.op("PUT", f"/models/{model}", json={"input": price_in, "output": price_out})
    channel = gateway.add_channel(
        upstream, ["gpt-4o-mini", "gpt-4o", "claude-sonnet-4"], name="openai-main"
    )
    gateway.add_channel(upstream, ["gpt-4o-mini"], name="openai-backup", priority=1)
    user_id = int(gateway.create_user(CUSTOMER, name="Ada")["id"])
    gateway.credit(user_id, "50")
    kind = gateway.op(
        "POST",
        "/package-types",
        json={"name": "Starter pack", "amount": "5", "validity_days": 30},
    )
    package = gateway.op("POST", f"/users/{user_id}/packages", json={"type_id": kind["id"]})
    laptop = gateway.make_user_key(user_id=user_id, remark="laptop")
    ci = gateway.make_user_key(user_id=user_id, remark="ci runner")
    _history(gateway, user_id, [laptop.id, ci.id])
    _relay_calls(gateway, upstream, [laptop.key, ci.key])
    _invoices(gateway, user_id)
    _files(gateway, laptop.key)
    records = gateway.wait_for_records(user_id=user_id, model=ECHO)
    return Demo(
        gateway=gateway,
        user_id=user_id,
        key_id=laptop.id,
        bill_id=int(records[0]["id"]),
        package_id=int(package["id"]),
        channel_id=int(channel["id"]),
        stack=stack,
    )
