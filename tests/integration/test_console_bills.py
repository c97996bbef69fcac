"""The console's bills and packages pages over real HTTP with a cookie session (SQLite and
PostgreSQL): what they show for calls relayed and billed by the gateway itself, the
filters and pages carried in the query string, the CSV export, and that another user's
line, key or package is the 404 page and a bad parameter the 400 page (never a 500,
never JSON).

The pages only read, so there is no form to refuse a CSRF token on: every request here
is a GET.
"""

from __future__ import annotations

import csv
import html
import io
import re
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime

import httpx
import pytest

from relaygate.relay.groups import ROUTE_GROUPS
from tests.fakes.openai_payloads import Behaviour
from tests.fakes.openai_upstream import FakeOpenAI
from tests.harness import Gateway, IssuedKey
from tests.integration.console import new_browser, new_email, sign_in
from tests.integration.test_money import USER, chat, priced_model, record_of
from tests.integration.test_rules_relay import create_rule, rule_call

LINE = re.compile(r'href="/console/bills/(\d+)')
AMOUNT = "0.009000"  # 1000 input × 2.00 + 500 output × 8.00 per million = 0.006, × 1.5


@dataclass
class Person:
    """A signed-in user with two keys and a priced model (fake upstream)."""

    browser: httpx.Client
    user_id: int
    key: IssuedKey
    other_key: IssuedKey
    model: str


def _signed_in(gw: Gateway) -> tuple[httpx.Client, int]:
    """A new user (made by the operator, funded) signed in through the pages."""
    email = new_email("bills")
    user_id = int(gw.create_user(email)["id"])
    gw.credit(user_id, "100")
    browser = new_browser(gw)
    sign_in(gw, browser, email)
    return browser, user_id


def _person(gw: Gateway, fake: FakeOpenAI, remark: str = "main key") -> Person:
    browser, user_id = _signed_in(gw)
    model = priced_model(gw, fake, input="2.00", output="8.00", multiplier="1.5")
    fake.default = Behaviour(prompt_tokens=1000, completion_tokens=500)
    key = gw.make_user_key(user_id=user_id, remark=remark)
    other = gw.make_user_key(user_id=user_id, remark="second key")
    return Person(browser, user_id, key, other, model)


def _calls(gw: Gateway, key: str, model: str, count: int) -> list[dict[str, object]]:
    return [record_of(gw, chat(gw, key, model)) for _ in range(count)]


def _lines(page: httpx.Response) -> list[int]:
    assert page.status_code == 200, page.text
    return [int(n) for n in LINE.findall(page.text)]


def _link(page: httpx.Response, rel: str) -> str | None:
    found = re.search(rf'<a href="([^"]+)" rel="{rel}"', page.text)
    return html.unescape(found.group(1)) if found else None


def _error_page(response: httpx.Response, status: int) -> str:
    assert response.status_code == status, (response.status_code, response.text[:500])
    assert response.headers["content-type"].startswith("text/html")
    assert "Traceback" not in response.text and '"statusCode"' not in response.text
    return response.text


# ---------------------------------------------------------------- the bills page


def test_bills_list_the_calls_with_exact_amounts_and_filter_by_the_query(
    gateway: Gateway, fake: FakeOpenAI
) -> None:
    me = _person(gateway, fake)
    mine = _calls(gateway, me.key.key, me.model, 2)
    other_model = priced_model(gateway, fake, input="1.00", output="1.00")
    theirs = _calls(gateway, me.other_key.key, other_model, 1)
    with gateway.http(me.key.key) as http:
        grouped = http.post(
            ROUTE_GROUPS["cc-omg"] + "/v1/chat/completions",
            json={"model": me.model, "messages": USER},
        )
    group_record = record_of(gateway, grouped)
    every = [int(r["id"]) for r in [group_record, *reversed(theirs), *reversed(mine)]]  # type: ignore[call-overload]

    page = me.browser.get("/console/bills")
    assert _lines(page) == every  # newest first
    assert page.text.count(AMOUNT) >= 2 and "promptTokens" in page.text and "RURT" in page.text
    assert "second key" in page.text  # the key column and the key select

    by_model = me.browser.get("/console/bills", params={"model": me.model})
    assert _lines(by_model) == [int(group_record["id"]), *[int(r["id"]) for r in reversed(mine)]]  # type: ignore[call-overload]
    assert f'value="{me.model}"' in by_model.text  # the form shows the filter again
    by_key = me.browser.get("/console/bills", params={"key": me.other_key.id})
    assert _lines(by_key) == [int(theirs[0]["id"])]  # type: ignore[call-overload]
    assert re.search(rf'<option value="{me.other_key.id}" selected>', by_key.text)
    assert _lines(me.browser.get("/console/bills", params={"group": "cc-omg"})) == [
        int(group_record["id"])  # type: ignore[call-overload]
    ]
    assert len(_lines(me.browser.get("/console/bills", params={"group": "v1"}))) == 3
    assert len(_lines(me.browser.get("/console/bills", params={"status": "2xx"}))) == 4
    failed = me.browser.get("/console/bills", params={"status": "5xx"})
    assert _lines(failed) == [] and "No calls match these filters." in failed.text
    today = datetime.now(UTC).date().isoformat()
    ranged = me.browser.get("/console/bills", params={"since": today, "until": today})
    assert len(_lines(ranged)) == 4
    assert _lines(me.browser.get("/console/bills", params={"until": "2000-01-01"})) == []
    chinese = me.browser.get("/console/bills", headers={"accept-language": "zh-CN"})
    assert "输入 tokens" in chinese.text and "promptTokens" in chinese.text  # the seed's term stays
    assert AMOUNT in chinese.text
    line = me.browser.get(f"/console/bills/{every[0]}", headers={"accept-language": "zh-CN"})
    assert "金额的计算过程" in line.text


def test_pages_walk_older_then_newer_with_a_small_page_size(
    gateway: Gateway, fake: FakeOpenAI
) -> None:
    me = _person(gateway, fake)
    made = [int(r["id"]) for r in reversed(_calls(gateway, me.key.key, me.model, 5))]  # type: ignore[call-overload]
    pages = [me.browser.get("/console/bills", params={"limit": 2, "model": me.model})]
    while (older := _link(pages[-1], "next")) is not None:
        assert "limit=2" in older and f"model={me.model}" in older  # the filters stay
        pages.append(me.browser.get(older))
    assert [_lines(p) for p in pages] == [made[0:2], made[2:4], made[4:5]]
    assert _link(pages[0], "prev") is None
    back = [pages[-1]]
    while (newer := _link(back[-1], "prev")) is not None:
        back.append(me.browser.get(newer))
    assert [_lines(p) for p in back] == [made[4:5], made[2:4], made[0:2]]
    assert _link(back[-1], "prev") is None  # the newest page has no newer link


def test_a_bill_line_explains_its_charge_and_leads_back_to_the_same_page(
    gateway: Gateway, fake: FakeOpenAI
) -> None:
    me = _person(gateway, fake)
    [record] = _calls(gateway, me.key.key, me.model, 1)
    line = me.browser.get(f"/console/bills/{record['id']}", params={"model": me.model, "limit": 5})
    assert line.status_code == 200, line.text
    text = line.text
    assert str(record["request_id"]) in text and "main key" in text
    assert "0.006000" in text and AMOUNT in text  # the official cost and the billed amount
    assert "2.000000" in text and "8.000000" in text  # the official prices per million
    assert ">1.5<" in text  # the model multiplier and the product
    assert "The worked-out amount equals the billed amount." in text
    assert f'href="/console/bills?model={me.model}&amp;limit=5"' in text


def test_a_line_names_the_rules_that_rewrote_it(sqlite_gateway: Gateway, fake: FakeOpenAI) -> None:
    gw = sqlite_gateway
    me = _person(gw, fake)
    kept = create_rule(
        gw,
        me.key,
        {
            "name": "cool temperature",
            "actions": [{"type": "set", "path": "/temperature", "value": 0}],
        },
    )
    gone = create_rule(
        gw,
        me.key,
        {"name": "tag", "actions": [{"type": "set_header", "name": "x-t", "value": "1"}]},
    )
    [ruled] = _calls(gw, me.key.key, me.model, 1)
    rule_call(gw, me.key, "delete", {"id": gone["id"]})
    later = record_of(gw, chat(gw, me.other_key.key, me.model))  # the kept rule alone
    assert (ruled["rules"], later["rules"]) == (f"{kept['id']},{gone['id']}", str(kept["id"]))

    named = f'<a href="/console/rules/{kept["id"]}">cool temperature</a>'
    deleted = f"rule #{gone['id']} (deleted)"
    page = me.browser.get("/console/bills")
    assert page.text.count(named) == 2 and page.text.count(deleted) == 1
    line = me.browser.get(f"/console/bills/{ruled['id']}")
    assert line.status_code == 200, line.text
    assert "First, your override rules rewrote the call" in line.text
    assert named in line.text and deleted in line.text
    chinese = me.browser.get(f"/console/bills/{ruled['id']}", headers={"accept-language": "zh-CN"})
    assert "首先，你的覆盖规则改写了这次调用" in chinese.text
    assert f"规则 #{gone['id']}（已删除）" in chinese.text

    rule_call(gw, me.key, "delete", {"id": kept["id"]})
    unruled = record_of(gw, chat(gw, me.key.key, me.model))
    line = me.browser.get(f"/console/bills/{unruled['id']}")
    assert "First, your override rules rewrote the call" not in line.text


def test_a_line_priced_before_a_price_change_starts_from_the_recorded_cost(
    gateway: Gateway, fake: FakeOpenAI
) -> None:
    me = _person(gateway, fake)
    [record] = _calls(gateway, me.key.key, me.model, 1)
    gateway.op("PUT", f"/models/{me.model}", json={"input": "3.00", "output": "8.00"})
    text = me.browser.get(f"/console/bills/{record['id']}").text
    assert "Official cost as recorded" in text and "The model&#39;s prices changed" in text
    assert "3.000000" in text  # today's price is shown as today's
    assert "0.006000" in text and AMOUNT in text  # the cost and the amount as billed


# ---------------------------------------------------------------- the CSV export


def test_the_csv_export_streams_the_filtered_calls_with_exact_money(
    gateway: Gateway, fake: FakeOpenAI
) -> None:
    me = _person(gateway, fake, remark='=HYPERLINK("http://x.test","click")')
    made = _calls(gateway, me.key.key, me.model, 3)
    _calls(gateway, me.other_key.key, me.model, 1)  # another key: filtered out
    response = me.browser.get("/console/bills.csv", params={"key": me.key.id})
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("text/csv")
    today = datetime.now(UTC).date().isoformat()
    assert response.headers["content-disposition"] == (
        f'attachment; filename="relaygate-bills-{today}.csv"'
    )
    rows = list(csv.DictReader(io.StringIO(response.text)))
    assert [r["requestId"] for r in rows] == [r["request_id"] for r in reversed(made)]
    assert {r["amount"] for r in rows} == {AMOUNT}
    assert {r["officialCost"] for r in rows} == {"0.006000"}
    assert {r["promptTokens"] for r in rows} == {"1000"}
    # a remark a spreadsheet would run as a formula is written as text
    assert {r["keyRemark"] for r in rows} == {'\'=HYPERLINK("http://x.test","click")'}
    empty = me.browser.get("/console/bills.csv", params={"until": "2000-01-01"})
    assert empty.status_code == 200 and empty.text.count("\r\n") == 1  # the header alone


# ---------------------------------------------------------------- packages


def _package(gw: Gateway, user_id: int, model: str, amount: str = "0.010000") -> str:
    name = f"Trial {uuid.uuid4().hex[:6]}"
    body = {"name": name, "amount": amount, "scope_models": [model]}
    type_id = int(gw.op("POST", "/package-types", json=body)["id"])
    gw.op("POST", f"/users/{user_id}/packages", json={"type_id": type_id})
    return name


def test_packages_show_what_is_left_and_the_calls_that_drew_on_them(
    gateway: Gateway, fake: FakeOpenAI
) -> None:
    me = _person(gateway, fake)
    empty = me.browser.get("/console/packages")
    assert empty.status_code == 200 and "You have no resource packages yet." in empty.text
    name = _package(gateway, me.user_id, me.model)
    made = _calls(gateway, me.key.key, me.model, 2)  # 0.006 each at official prices
    listing = me.browser.get("/console/packages")
    assert name in listing.text and "0.000000" in listing.text and "Used up" in listing.text
    [package_id] = re.findall(r'href="/console/packages/(\d+)"', listing.text)
    first = me.browser.get(f"/console/packages/{package_id}", params={"limit": 1})
    assert first.status_code == 200, first.text
    assert _lines(first) == [int(made[1]["id"])]  # type: ignore[call-overload]
    assert "0.004000" in first.text  # the second call took what was left
    older = _link(first, "next")
    assert older is not None
    assert _lines(me.browser.get(older)) == [int(made[0]["id"])]  # type: ignore[call-overload]
    line = me.browser.get(f"/console/bills/{made[0]['id']}")
    assert (
        "0.006000" in line.text and "The worked-out amount equals the billed amount." in line.text
    )


# ---------------------------------------------------------------- another user's ids, bad input


def test_another_users_line_key_and_package_are_the_404_page(
    gateway: Gateway, fake: FakeOpenAI
) -> None:
    me, them = _person(gateway, fake), _person(gateway, fake)
    [their_call] = _calls(gateway, them.key.key, them.model, 1)
    _package(gateway, them.user_id, them.model)
    their_package = re.findall(
        r'href="/console/packages/(\d+)"', them.browser.get("/console/packages").text
    )[0]
    for path, params in [
        (f"/console/bills/{their_call['id']}", {}),
        ("/console/bills", {"key": them.key.id}),
        ("/console/bills.csv", {"key": them.key.id}),
        (f"/console/packages/{their_package}", {}),
        ("/console/bills/0", {}),
        ("/console/bills/99999999999999999999", {}),
        ("/console/bills/abc", {}),
        ("/console/packages/2147483648", {}),
        ("/console/packages/x1", {}),
    ]:
        page = _error_page(me.browser.get(path, params=params), 404)
        assert "Page not found" in page, path
    assert f'/console/packages/{their_package}"' not in me.browser.get("/console/packages").text


@pytest.mark.parametrize(
    ("params", "says"),
    [
        ({"since": "yesterday"}, "From: enter a date like 2026-12-07."),
        ({"until": "2026-13-01"}, "To: enter a date like 2026-12-07."),
        ({"since": "2026-12-07", "until": "2026-12-01"}, "the end date must not be before"),
        ({"key": "abc"}, "Key: choose one of your keys."),
        ({"key": "99999999999"}, "Key: choose one of your keys."),
        ({"status": "bad"}, "Status: choose 2xx"),
        ({"group": "nope"}, "Route group: choose"),
        ({"limit": "0"}, "Rows per page"),
        ({"limit": "100000"}, "Rows per page"),
        ({"cursor": "not-a-cursor"}, "This page link is no longer valid"),
        ({"before": "x" * 65}, "This page link is no longer valid"),
        ({"cursor": "MS4xLjE", "before": "MS4xLjE"}, "This page link is no longer valid"),
        ({"model": "x" * 201}, "Model: the model name is too long"),
    ],
)
def test_bad_filters_are_the_400_page_naming_the_field(
    sqlite_gateway: Gateway, params: dict[str, str], says: str
) -> None:
    browser, _ = _signed_in(sqlite_gateway)
    for path in ("/console/bills", "/console/bills.csv", "/console/bills/1"):
        page = _error_page(browser.get(path, params=params), 400)
        assert html.escape(says, quote=False) in page, (path, params)


def test_extreme_but_valid_dates_and_a_repeated_parameter_are_answered(
    sqlite_gateway: Gateway, fake: FakeOpenAI
) -> None:
    me = _person(sqlite_gateway, fake)
    _calls(sqlite_gateway, me.key.key, me.model, 1)
    assert len(_lines(me.browser.get("/console/bills?since=0001-01-01&until=9999-12-31"))) == 1
    assert len(_lines(me.browser.get(f"/console/bills?model={me.model}&model=x"))) == 1


def test_signed_out_the_pages_lead_to_the_login(sqlite_gateway: Gateway) -> None:
    with httpx.Client(base_url=sqlite_gateway.url, follow_redirects=False) as anonymous:
        for path in ("/console/bills", "/console/bills.csv", "/console/bills/1",
                     "/console/packages", "/console/packages/1"):  # fmt: skip
            response = anonymous.get(path)
            assert response.status_code == 303, path
            assert response.headers["location"].startswith("/console/login?next=")
