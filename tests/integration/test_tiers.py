"""The operator's tier tables over real HTTP, on both databases: an edited RPM table is
the limit a user meets on /v1 (the official openai SDK against the fake upstream), an
edited membership table is what the dashboard shows after a top-up, an edited referral
package type is what a new referral receives, the console's forms save and refuse as
the API does, and a second replica on the same PostgreSQL and Redis follows an edit."""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator
from typing import Any

import openai
import pytest

from tests.conftest import DATABASES
from tests.fakes.openai_upstream import FakeOpenAI
from tests.harness import Gateway, IssuedKey, create_pg_database, drop_pg_database, start_gateway
from tests.integration.console import csrf_token, new_browser, new_email, sign_in
from tests.integration.test_money import priced_model
from tests.integration.test_signup_referral import invite_of, referral_packages
from tests.integration.test_signup_referral import sign_in as api_sign_in

OPERATOR = "tiers-operator@example.test"
RPM_2 = [{"min_topup": "0", "rpm": 2}, {"min_topup": "50", "rpm": 1000}]


@pytest.fixture(scope="module", params=DATABASES)
def tiers_gateway(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Gateway]:
    """A gateway of its own: its tables change, which no other test may see."""
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path_factory.mktemp('tiers')}/gw.db"
    else:
        url = create_pg_database()
    gateway = start_gateway(
        url, operator_email=OPERATOR, login_per_ip_per_minute=0, login_per_ip_per_hour=0
    )
    yield gateway
    gateway.stop()
    if request.param != "sqlite":
        drop_pg_database(url)


@pytest.fixture
def gw(tiers_gateway: Gateway) -> Iterator[Gateway]:
    """The module's gateway, its tables reset to the settings after each test."""
    yield tiers_gateway
    for section in ("membership_tiers", "rate_limit_tiers", "referral"):
        tiers_gateway.op("DELETE", f"/tiers/{section}")


def _caller(gw: Gateway) -> IssuedKey:
    """A user with money but no top-up (an adjustment): the lowest tiers."""
    user_id = int(gw.create_user()["id"])
    gw.credit(user_id, "10", "adjustment")
    return gw.make_user_key(user_id=user_id)


def _limit_header(gw: Gateway, key: str, model: str, unknown: str = "") -> str:
    """The RPM one call is told (a refused call's, too); ``unknown`` when given is the
    answer for a model this gateway does not route yet."""
    try:
        answer = gw.openai(key).chat.completions.with_raw_response.create(
            model=model, messages=[{"role": "user", "content": "hi"}]
        )
    except openai.RateLimitError as refused:
        return refused.response.headers["x-ratelimit-limit-requests"]
    except openai.NotFoundError:
        if not unknown:
            raise
        return unknown
    return answer.headers["x-ratelimit-limit-requests"]


def _limit_met(gw: Gateway, key: str, model: str) -> tuple[int, str]:
    """Calls until one is refused: how many passed, and the limit the refusal names."""
    sdk = gw.openai(key)
    for passed in range(100):
        try:
            sdk.chat.completions.create(model=model, messages=[{"role": "user", "content": "hi"}])
        except openai.RateLimitError as refused:
            return passed, refused.response.headers["x-ratelimit-limit-requests"]
    raise AssertionError("never refused")


def test_the_defaults_come_from_the_settings(gw: Gateway) -> None:
    tiers = gw.op("GET", "/tiers")
    assert tiers["rate_limit_tiers"][0] == {"min_topup": "0.000000", "rpm": 60}
    assert tiers["membership_tiers"][0] == {"level": "vip", "min_topup": "20.000000", "months": 1}
    assert tiers["referral"]["package_type"] == "$20 Claude Code"
    assert {s["source"] for s in tiers["sources"].values()} == {"settings"}


def test_an_edited_rpm_tier_is_the_limit_met_on_v1(gw: Gateway, fake: FakeOpenAI) -> None:
    model = priced_model(gw, fake, input="0.01", output="0.01")
    saved = gw.op("PUT", "/tiers", json={"rate_limit_tiers": RPM_2})
    assert saved["sources"]["rate_limit_tiers"]["source"] == "database"
    assert saved["sources"]["rate_limit_tiers"]["updated_by"] is not None
    assert _limit_met(gw, _caller(gw).key, model) == (2, "2")
    # a top-up reaching the next edited tier lifts the limit
    rich = _caller(gw)
    gw.credit(rich.user_id, "50", "topup")
    assert _limit_header(gw, rich.key, model) == "1000"
    # reset: the settings' 60 again, for the next call
    reset = gw.op("DELETE", "/tiers/rate_limit_tiers")
    assert reset["sources"]["rate_limit_tiers"]["source"] == "settings"
    assert _limit_header(gw, _caller(gw).key, model) == "60"


def test_bad_tables_are_400s_naming_the_field(gw: Gateway) -> None:
    cases: list[tuple[dict[str, Any], str]] = [
        ({"rate_limit_tiers": [{"min_topup": "1", "rpm": 5}]}, "rate_limit_tiers[0].min_topup"),
        (
            {"rate_limit_tiers": [{"min_topup": "0", "rpm": 5}, {"min_topup": "0", "rpm": 6}]},
            "rate_limit_tiers[1].min_topup",
        ),
        ({"rate_limit_tiers": [{"min_topup": "0", "rpm": 0}]}, "rpm"),
        ({"membership_tiers": [{"level": "gold", "min_topup": "1", "months": 1}]}, "level"),
        ({"referral": {"package_type": "No such pack", "redeem_days": 1}}, "package_type"),
        ({"referral": {"package_type": "x", "denied_domains": ["a b"], "redeem_days": 1}}, "a b"),
        ({}, "section"),
    ]
    for body, named in cases:
        answer = gw.operator.put("/tiers", json=body)
        assert answer.status_code == 400, (body, answer.text)
        assert answer.json()["data"] is None and named in answer.json()["message"], answer.text
    assert gw.operator.delete("/tiers/colours").status_code == 400
    assert {s["source"] for s in gw.op("GET", "/tiers")["sources"].values()} == {"settings"}


def _user_id(gw: Gateway, email: str) -> int:
    for offset in range(0, 10_000, 100):
        users = gw.op("GET", "/users", params={"offset": offset, "limit": 100})
        found = [u["id"] for u in users if u["email"] == email]
        if found or not users:
            return int(found[0])
    raise AssertionError(email)


def test_an_edited_membership_tier_is_what_the_dashboard_shows(gw: Gateway) -> None:
    email = new_email("tiers-member")
    with new_browser(gw) as browser:
        sign_in(gw, browser, email)
        user_id = _user_id(gw, email)
        gw.credit(user_id, "5", "topup")
        assert '<p class="value">Free</p>' in browser.get("/console/").text  # VIP needs 20
        gw.op(
            "PUT",
            "/tiers",
            json={
                "membership_tiers": [{"level": "premium", "min_topup": "5", "months": 3}],
                "rate_limit_tiers": [{"min_topup": "0", "rpm": 7}],
            },
        )
        board = browser.get("/console/").text
        assert '<p class="value">Premium</p>' in board
        assert "7 requests per minute" in board
    manager = gw.make_user_key(user_id=user_id, is_admin=True)
    with gw.http(manager.key) as http:
        level = http.post("/api/v1/user/admin/get-membership-expire-date").json()["data"]
    assert level["membership"] == "premium"


def test_an_edited_referral_package_type_is_what_a_new_referral_receives(gw: Gateway) -> None:
    name = f"Welcome {uuid.uuid4().hex[:6]}"
    gw.op("POST", "/package-types", json={"name": name, "amount": "3", "validity_days": 9})
    terms = {"package_type": name, "denied_domains": ["spam.example"], "redeem_days": 2}
    gw.op("PUT", "/tiers", json={"referral": terms})
    inviter = api_sign_in(gw, f"inviter-{uuid.uuid4().hex[:8]}@example.test")
    code = invite_of(gw, inviter["user_id"])["code"]
    invitee = api_sign_in(gw, f"invitee-{uuid.uuid4().hex[:8]}@example.test", code)
    for user_id in (inviter["user_id"], invitee["user_id"]):
        granted = referral_packages(gw, user_id)
        assert [(p["name"], p["amount"]) for p in granted] == [(name, "3.000000")]
    refused = api_sign_in(gw, f"spam-{uuid.uuid4().hex[:8]}@spam.example", code)
    assert referral_packages(gw, refused["user_id"]) == []


def test_the_console_adds_removes_and_refuses_rows(gw: Gateway) -> None:
    with new_browser(gw) as browser:
        sign_in(gw, browser, OPERATOR)
        token = csrf_token(browser, "/console/admin/tiers")
        page = browser.get("/console/admin/tiers").text
        assert 'name="min_topup_4"' in page  # three settings rows and two blank ones
        form = {
            "csrf_token": token,
            **{f"min_topup_{i}": v for i, v in enumerate(["0", "20", "300", "500", ""])},
            **{f"rpm_{i}": v for i, v in enumerate(["60", "1000", "10000", "20000", ""])},
            "remove_1": "1",  # the 20.00 row goes
        }
        saved = browser.post("/console/admin/tiers/rate-limits", data=form)
        assert saved.status_code == 303, saved.text
        stored = gw.op("GET", "/tiers")["rate_limit_tiers"]
        assert [(t["min_topup"], t["rpm"]) for t in stored] == [
            ("0.000000", 60),
            ("300.000000", 10000),
            ("500.000000", 20000),
        ]
        bad = {**form, "remove_1": "", "min_topup_2": "10"}  # 10 after 20
        refused = browser.post("/console/admin/tiers/rate-limits", data=bad)
        assert refused.status_code == 400
        assert 'id="rate_limit_tiers-err-min_topup_2"' in refused.text
        assert 'value="10"' in refused.text  # what was typed is shown again
        assert len(gw.op("GET", "/tiers")["rate_limit_tiers"]) == 3  # nothing changed
        settings = browser.get("/console/admin/settings").text
        assert "from the database" in settings
        reset = browser.post(
            "/console/admin/tiers/rate_limit_tiers/reset", data={"csrf_token": token}
        )
        assert reset.status_code == 303
        assert gw.op("GET", "/tiers")["sources"]["rate_limit_tiers"]["source"] == "settings"
        referral = browser.post(
            "/console/admin/tiers/referral",
            data={"csrf_token": token, "package_type": "nope", "redeem_days": "3"},
        )
        assert referral.status_code == 400 and 'id="ref-err-package_type"' in referral.text


@pytest.mark.postgres
def test_another_replica_follows_an_edit(fake: FakeOpenAI) -> None:
    """Two gateways on one PostgreSQL and one Redis: a table saved on A limits calls on
    B once B's next check (about a second) has seen the kv counter move."""
    pytest.importorskip("asyncpg")
    url = create_pg_database()
    shared = {
        "kv_url": "redis://127.0.0.1:6379/0",
        "kv_prefix": f"rg-t:{uuid.uuid4().hex}:",
        "channel_refresh_interval": 0.2,  # B routes A's new channel soon
    }
    a = start_gateway(url, **shared)
    b = None
    try:
        b = start_gateway(url, **shared)
        model = priced_model(a, fake, input="0.01", output="0.01")
        a.op("PUT", "/tiers", json={"rate_limit_tiers": [{"min_topup": "0", "rpm": 4}]})
        deadline = time.monotonic() + 30
        while b.op("GET", "/tiers")["rate_limit_tiers"][0]["rpm"] != 4:
            assert time.monotonic() < deadline
            time.sleep(0.05)
        key = _caller(a).key
        # B's snapshot, not its database read above, is what a call meets
        while _limit_header(b, key, model, unknown="not routed yet") != "4":
            assert time.monotonic() < deadline, "replica B never applied the edit"
            time.sleep(0.05)
    finally:
        if b is not None:
            b.stop()
        a.stop()
        drop_pg_database(url)
