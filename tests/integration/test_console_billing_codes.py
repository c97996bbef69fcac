"""The redemption-code pages over HTTP: the operator generates a batch on
/console/admin/codes, downloads it as CSV and disables it; a user redeems a code on
/console/billing. Operator pages and forms are the 404 page for anyone else, every POST
needs the CSRF token, and batch changes are in the audit trail."""

from __future__ import annotations

import csv
import io
import uuid
from collections.abc import Iterator

import httpx
import pytest

from relaygate.accounts.audit import AuditLine, AuditTrail
from relaygate.db.engine import Database
from tests.harness import Gateway, run_sync, start_gateway
from tests.integration.test_console_sessions import CSRF, sign_in
from tests.integration.test_money import wallet

OPERATOR = "codes-operator@example.test"


@pytest.fixture(scope="module")
def gateway(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Gateway]:
    url = f"sqlite:///{tmp_path_factory.mktemp('codes')}/gw.db"
    gw = start_gateway(
        url,
        operator_email=OPERATOR,
        login_per_ip_per_minute=0,
        login_per_ip_per_hour=0,
        redeem_per_ip_per_minute=0,
    )
    yield gw
    gw.stop()


def _browser(gw: Gateway, email: str) -> httpx.Client:
    client = httpx.Client(base_url=gw.url, timeout=30, follow_redirects=False)
    sign_in(gw, client, email)
    return client


def _token(client: httpx.Client, page: str) -> str:
    found = CSRF.search(client.get(page).text)
    assert found is not None
    return found.group(1)


def _user_id(gw: Gateway, email: str) -> int:
    users = gw.op("GET", "/users", params={"limit": 1000})
    return int(next(u["id"] for u in users if u["email"] == email))


def _audit(gw: Gateway) -> list[AuditLine]:
    async def read() -> list[AuditLine]:
        db = Database(gw.db_url)
        try:
            return list((await AuditTrail(db).list_all(limit=200)).lines)
        finally:
            await db.dispose()

    return run_sync(read())


def _create(operator: httpx.Client, name: str, **fields: str) -> httpx.Response:
    token = _token(operator, "/console/admin/codes")
    data = {"csrf_token": token, "name": name, "quantity": "2", "max_redemptions": "1"}
    return operator.post("/console/admin/codes", data={**data, **fields})


def _batch_id(gw: Gateway, name: str) -> int:
    return int(next(b["id"] for b in gw.op("GET", "/redemption-batches") if b["name"] == name))


def test_the_operator_generates_downloads_and_disables_a_batch(gateway: Gateway) -> None:
    operator = _browser(gateway, OPERATOR)
    name = f"conf-{uuid.uuid4().hex[:8]}"
    created = _create(operator, name, amount="4", expires_on="2099-12-31")
    assert created.status_code == 303, created.text
    page = operator.get(created.headers["location"])
    assert name in page.text and "4.00" in page.text
    batch_id = _batch_id(gateway, name)
    download = operator.get(f"/console/admin/codes/{batch_id}.csv")
    assert download.status_code == 200 and download.headers["content-type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(download.text)))
    assert len(rows) == 2 and all(len(r["code"]) == 19 for r in rows)
    assert rows[0]["expires_at"] == "2100-01-01T00:00:00Z"  # through the last valid day
    token = _token(operator, "/console/admin/codes")
    off = operator.post(
        f"/console/admin/codes/{batch_id}/active", data={"csrf_token": token, "active": "false"}
    )
    assert off.status_code == 303
    listed = {b["id"]: b for b in gateway.op("GET", "/redemption-batches")}
    assert listed[batch_id]["active"] is False
    actions = {(line.action, line.detail.get("batch_id")) for line in _audit(gateway)}
    assert {("redemption_batch.create", batch_id), ("redemption_batch.disable", batch_id)} <= (
        actions
    )


def test_a_bad_batch_form_is_a_form_error(gateway: Gateway) -> None:
    operator = _browser(gateway, OPERATOR)
    name = f"bad-{uuid.uuid4().hex[:8]}"
    for fields in ({"amount": "", "expires_on": "2099-01-01"}, {"amount": "1", "expires_on": "x"}):
        answer = _create(operator, name, **fields)
        assert answer.status_code == 400, answer.text
        assert name in answer.text  # what was typed is shown again
    assert all(b["name"] != name for b in gateway.op("GET", "/redemption-batches"))


def test_a_user_redeems_on_the_billing_page(gateway: Gateway) -> None:
    operator = _browser(gateway, OPERATOR)
    name = f"gift-{uuid.uuid4().hex[:8]}"
    assert _create(operator, name, amount="1.5", expires_on="2099-12-31").status_code == 303
    code = next(
        csv.DictReader(
            io.StringIO(operator.get(f"/console/admin/codes/{_batch_id(gateway, name)}.csv").text)
        )
    )["code"]
    email = f"codes-{uuid.uuid4().hex[:8]}@example.test"
    user = _browser(gateway, email)
    empty = user.get("/console/billing")
    assert empty.status_code == 200 and "Redeem a code" in empty.text
    token = _token(user, "/console/billing")
    done = user.post("/console/billing/redeem", data={"csrf_token": token, "code": code})
    assert done.status_code == 303, done.text
    history = user.get(done.headers["location"]).text
    assert name in history and "1.50" in history
    assert wallet(gateway, _user_id(gateway, email)) == (1_500_000, 0)
    again = user.post("/console/billing/redeem", data={"csrf_token": token, "code": code})
    assert again.status_code == 400
    assert "This code is invalid, already used or expired." in again.text
    other = _browser(gateway, f"codes-{uuid.uuid4().hex[:8]}@example.test")
    assert name not in other.get("/console/billing").text  # only one's own history


def test_operator_pages_are_404_for_anyone_else_and_posts_need_csrf(gateway: Gateway) -> None:
    operator = _browser(gateway, OPERATOR)
    name = f"sec-{uuid.uuid4().hex[:8]}"
    assert _create(operator, name, amount="1", expires_on="2099-12-31").status_code == 303
    batch_id = _batch_id(gateway, name)
    user = _browser(gateway, f"codes-{uuid.uuid4().hex[:8]}@example.test")
    token = _token(user, "/console/billing")
    for path in ("/console/admin/codes", f"/console/admin/codes/{batch_id}.csv"):
        page = user.get(path)
        assert page.status_code == 404 and "text/html" in page.headers["content-type"], path
    for path in ("/console/admin/codes", f"/console/admin/codes/{batch_id}/active"):
        sent = user.post(path, data={"csrf_token": token, "active": "false", "name": "x"})
        assert sent.status_code == 404, path
        for data in ({}, {"csrf_token": "forged"}):
            refused = operator.post(path, data={**data, "active": "false", "name": "x"})
            assert refused.status_code == 403, path
    for data in ({"code": "x"}, {"csrf_token": "forged", "code": "x"}):
        assert user.post("/console/billing/redeem", data=data).status_code == 403
    assert {b["id"]: b for b in gateway.op("GET", "/redemption-batches")}[batch_id]["active"]
