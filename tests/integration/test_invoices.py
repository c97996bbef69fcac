"""Invoices over real HTTP (docs/invoices.md): a top-up paid through the fake Stripe, the
user asks for an invoice, the operator issues it, the user downloads the PDF and pypdf
reads back the number, the organisation, the tax id and the total. Then the refusals
(bad input, twice the same order, another user's invoice), the reject path, the audit
lines, and the console pages' forms (CSRF, the operator-only page). SQLite and PostgreSQL."""

from __future__ import annotations

import io
import re
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest
from pypdf import PdfReader

from relaygate.accounts.audit import AuditLine, AuditTrail
from relaygate.db.engine import Database
from tests.conftest import DATABASES
from tests.fakes.stripe import FakeStripe
from tests.harness import (
    Gateway,
    IssuedKey,
    create_pg_database,
    drop_pg_database,
    run_sync,
    start_gateway,
)
from tests.integration.console import csrf_token, new_email, signed_in

WEBHOOK = "/api/v1/payments/stripe/webhook"
OPERATOR = "invoices-operator@example.test"
ORG = "深圳市示例科技有限公司"
TAX_ID = "91440300MA5G0EXAMPLE"
YEAR = datetime.now(UTC).year


@pytest.fixture(scope="module")
def stripe_fake() -> Iterator[FakeStripe]:
    with FakeStripe(webhook_secret="whsec_relaygate_invoices") as fake:
        yield fake


@pytest.fixture(scope="module", params=DATABASES)
def gw(
    request: pytest.FixtureRequest,
    stripe_fake: FakeStripe,
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[Gateway]:
    url = (
        f"sqlite:///{tmp_path_factory.mktemp('invoices')}/gw.db"
        if request.param == "sqlite"
        else create_pg_database()
    )
    gateway = start_gateway(
        url,
        stripe_secret_key="sk_test_invoices",
        stripe_webhook_secret=stripe_fake.webhook_secret,
        stripe_api_base=stripe_fake.base_url,
        payments_min_amount="1",
        invoice_issuer_name="Relaygate Operator Ltd",
        invoice_issuer_address="1 Gateway Road, Example City",
        invoice_issuer_tax_id="GB123456789",
        invoice_prefix="RG",
        operator_email=OPERATOR,
        login_per_ip_per_minute=0,
        login_per_ip_per_hour=0,
    )
    stripe_fake.webhook_url = gateway.url + WEBHOOK
    yield gateway
    gateway.stop()
    if request.param != "sqlite":
        drop_pg_database(url)


def _manager(gw: Gateway, email: str = "") -> IssuedKey:
    user_id = int(gw.create_user(email or None)["id"])
    return gw.make_user_key(user_id=user_id, is_admin=True)


def _paid_order(gw: Gateway, stripe: FakeStripe, key: str, amount: str) -> int:
    with gw.http(key) as http:
        answer = http.post("/api/v1/user/payments/topups", json={"amount": amount})
    assert answer.status_code == 200, answer.text
    order = answer.json()["data"]
    stripe.complete(order["provider_ref"])  # Stripe's signed webhook marks it paid
    return int(order["id"])


def _call(gw: Gateway, key: str, method: str, path: str, **kwargs: Any) -> httpx.Response:
    with gw.http(key) as http:
        return http.request(method, path, **kwargs)


def _request(gw: Gateway, key: str, order_ids: list[int], **buyer: str) -> httpx.Response:
    body = {"order_ids": order_ids, "organisation": ORG, "tax_id": TAX_ID, **buyer}
    return _call(gw, key, "POST", "/api/v1/user/invoices", json=body)


def _audit(gw: Gateway, user_id: int) -> list[AuditLine]:
    async def read() -> list[AuditLine]:
        db = Database(gw.db_url)
        try:
            return list((await AuditTrail(db).list_for(user_id, limit=50)).lines)
        finally:
            await db.dispose()

    return run_sync(read())


def test_request_issue_and_download_the_pdf(gw: Gateway, stripe_fake: FakeStripe) -> None:
    user = _manager(gw)
    first = _paid_order(gw, stripe_fake, user.key, "20")
    second = _paid_order(gw, stripe_fake, user.key, "7.50")
    listed = _call(gw, user.key, "GET", "/api/v1/user/invoices/orders").json()["data"]
    assert [o["order_id"] for o in listed] == [second, first]

    asked = _request(gw, user.key, [first, second], address="南山区 1 号", bank_name="招商银行")
    assert asked.status_code == 200, asked.text
    invoice = asked.json()["data"]
    assert invoice["state"] == "requested" and invoice["number"] is None
    assert invoice["total"] == "27.500000" and invoice["currency"] == "usd"
    assert _call(gw, user.key, "GET", "/api/v1/user/invoices/orders").json()["data"] == []

    queue = gw.op("GET", "/invoices", params={"state": "requested"})
    assert invoice["id"] in [i["id"] for i in queue]
    issued = gw.op("POST", f"/invoices/{invoice['id']}/issue")
    assert issued["state"] == "issued" and re.fullmatch(rf"RG-{YEAR}-\d{{6}}", issued["number"])

    pdf = _call(gw, user.key, "GET", f"/api/v1/user/invoices/{invoice['id']}/pdf")
    assert pdf.status_code == 200 and pdf.headers["content-type"] == "application/pdf"
    assert pdf.headers["content-disposition"] == f'attachment; filename="{issued["number"]}.pdf"'
    text = PdfReader(io.BytesIO(pdf.content)).pages[0].extract_text()
    for expected in (issued["number"], ORG, TAX_ID, "27.50 USD", "Relaygate Operator Ltd"):
        assert expected in text, expected
    operator_copy = gw.operator.get(f"/invoices/{invoice['id']}/pdf")
    assert operator_copy.status_code == 200 and operator_copy.content == pdf.content

    actions = [line.action for line in _audit(gw, user.user_id)]
    assert "invoice.request" in actions and "invoice.issue" in actions


def test_refusals_in_the_platform_envelope(gw: Gateway, stripe_fake: FakeStripe) -> None:
    user, other = _manager(gw), _manager(gw)
    order = _paid_order(gw, stripe_fake, user.key, "5")
    for body in (
        {"order_ids": [order], "organisation": ORG},  # no tax id
        {"order_ids": [], "organisation": ORG, "tax_id": TAX_ID},
        {"order_ids": [order], "organisation": ORG, "tax_id": "x" * 65},
        {"order_ids": [order], "organisation": ORG, "tax_id": TAX_ID, "extra": 1},
    ):
        refused = _call(gw, user.key, "POST", "/api/v1/user/invoices", json=body)
        assert refused.status_code == 400, (body, refused.text)
        assert refused.json()["data"] is None and refused.json()["statusCode"] == 400
    assert _request(gw, other.key, [order]).status_code == 404  # not their order
    invoice = _request(gw, user.key, [order]).json()["data"]
    again = _request(gw, user.key, [order])
    assert again.status_code == 409 and again.json()["errorType"]
    for path in ("", "/pdf"):
        seen = _call(gw, other.key, "GET", f"/api/v1/user/invoices/{invoice['id']}{path}")
        assert seen.status_code == 404, path
    assert (
        _call(gw, other.key, "POST", f"/api/v1/user/invoices/{invoice['id']}/cancel").status_code
        == 404
    )
    assert (
        _call(gw, user.key, "GET", f"/api/v1/user/invoices/{invoice['id']}/pdf").status_code == 404
    )
    blank = gw.operator.post(f"/invoices/{invoice['id']}/reject", json={"reason": ""})
    assert blank.status_code == 400
    rejected = gw.op("POST", f"/invoices/{invoice['id']}/reject", json={"reason": "Wrong tax id."})
    assert rejected["state"] == "rejected" and rejected["reason"] == "Wrong tax id."
    assert gw.operator.post(f"/invoices/{invoice['id']}/issue").status_code == 409
    mine = _call(gw, user.key, "GET", "/api/v1/user/invoices").json()["data"]
    assert [(i["id"], i["state"]) for i in mine] == [(invoice["id"], "rejected")]
    retry = _request(gw, user.key, [order]).json()["data"]  # a rejected invoice frees it
    cancelled = _call(gw, user.key, "POST", f"/api/v1/user/invoices/{retry['id']}/cancel")
    assert cancelled.status_code == 200 and cancelled.json()["data"]["state"] == "cancelled"
    assert (
        _call(gw, user.key, "POST", f"/api/v1/user/invoices/{retry['id']}/cancel").status_code
        == 409
    )
    assert gw.operator.get("/invoices", params={"state": "nope"}).status_code == 400


def test_the_console_pages_request_reject_and_issue(gw: Gateway, stripe_fake: FakeStripe) -> None:
    key = _manager(gw, new_email("invoices"))
    email = gw.op("GET", f"/users/{key.user_id}")["email"]
    with signed_in(gw, email) as browser, signed_in(gw, OPERATOR) as operator:
        empty = browser.get("/console/invoices")
        assert empty.status_code == 200 and "No paid top-up left to invoice" in empty.text
        order = _paid_order(gw, stripe_fake, key.key, "12")
        token = csrf_token(browser, "/console/invoices")
        form = {"csrf_token": token, "order_id": str(order), "organisation": ORG, "tax_id": ""}
        refused = browser.post("/console/invoices", data=form)
        assert refused.status_code == 400 and "tax id" in refused.text
        assert (
            browser.post("/console/invoices", data={**form, "csrf_token": "x"}).status_code == 403
        )
        done = browser.post("/console/invoices", data={**form, "tax_id": TAX_ID})
        assert (
            done.status_code == 303
            and done.headers["location"] == "/console/invoices?done=requested"
        )
        page = browser.get("/console/invoices").text
        assert "Requested" in page and ORG in page and "Cancel request" in page
        invoice_id = _call(gw, key.key, "GET", "/api/v1/user/invoices").json()["data"][0]["id"]

        assert browser.get("/console/admin/invoices").status_code == 404  # operators only
        queue = operator.get("/console/admin/invoices", params={"state": "requested"})
        assert queue.status_code == 200 and ORG in queue.text
        op_token = csrf_token(operator, "/console/admin/invoices")
        base = f"/console/admin/invoices/{invoice_id}"
        blank = operator.post(base + "/reject", data={"csrf_token": op_token, "reason": " "})
        assert blank.status_code == 400 and "Say why" in blank.text
        issued = operator.post(base + "/issue", data={"csrf_token": op_token})
        assert issued.status_code == 303, issued.text
        twice = operator.post(base + "/issue", data={"csrf_token": op_token})
        assert twice.status_code == 409 and "already decided" in twice.text

        page = browser.get("/console/invoices").text
        assert f'href="/console/invoices/{invoice_id}.pdf"' in page and "Issued" in page
        pdf = browser.get(f"/console/invoices/{invoice_id}.pdf")
        assert pdf.status_code == 200 and pdf.headers["content-type"] == "application/pdf"
        assert TAX_ID in PdfReader(io.BytesIO(pdf.content)).pages[0].extract_text()
        assert operator.get(base + ".pdf").content == pdf.content
        with signed_in(gw) as stranger:
            assert stranger.get(f"/console/invoices/{invoice_id}.pdf").status_code == 404
        zh = browser.get("/console/invoices", cookies={"rg_lang": "zh"}).text
        assert "申请开票" in zh or "你的发票" in zh
