"""The operator's overview and users pages over real HTTP: only the operator sees them (a
404 for anyone else, pages and forms alike), every form needs the CSRF token, bad input
is a form error that changes nothing, and each change lands in the audit trail with the
operator as its actor.

One SQLite gateway for the module, its operator a real address so they sign in through
the login form like anyone (tests/integration/test_console_sessions.py's ``sign_in``).
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterator

import httpx
import pytest

from relaygate.accounts.audit import AuditLine, AuditTrail
from relaygate.core.money import format_money
from relaygate.db.engine import Database
from tests.fakes.openai_upstream import FakeOpenAI
from tests.harness import Gateway, run_sync, start_gateway
from tests.integration.console import csrf_token, new_browser, sign_in

OPERATOR = "root-admin@example.test"
PAGES = ("/console/admin/", "/console/admin/users", "/console/admin/users/{uid}")
FORMS = (
    ("credit", {"kind": "topup", "amount": "1", "memo": "x"}),
    ("package", {"type_id": "1"}),
    ("group", {"group": "partner"}),
    ("disable", {}),
    ("enable", {}),
    ("keys/{kid}/disable", {}),
    ("keys/{kid}/enable", {}),
)


@pytest.fixture(scope="module")
def gw(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Gateway]:
    url = f"sqlite:///{tmp_path_factory.mktemp('admin-users')}/gw.db"
    gateway = start_gateway(
        url, operator_email=OPERATOR, group_multipliers={"partner": "0.5", "staff": "0"}
    )
    yield gateway
    gateway.stop()


@pytest.fixture(scope="module")
def operator(gw: Gateway) -> Iterator[httpx.Client]:
    with new_browser(gw) as browser:
        sign_in(gw, browser, OPERATOR)
        yield browser


@pytest.fixture(scope="module")
def member(gw: Gateway) -> Iterator[httpx.Client]:
    """A signed-in user who is not the operator."""
    with new_browser(gw) as browser:
        sign_in(gw, browser, f"member-{uuid.uuid4().hex[:8]}@example.test")
        yield browser


def _subject(gw: Gateway) -> tuple[int, int]:
    """A new user with a key: (user id, key id)."""
    issued = gw.make_user_key()
    return issued.user_id, issued.id


def _audit(gw: Gateway, user_id: int) -> list[AuditLine]:
    """The user's audit lines, newest first, read from the database (no API lists them)."""

    async def read() -> list[AuditLine]:
        db = Database(gw.db_url)
        try:
            return list((await AuditTrail(db).list_for(user_id, limit=200)).lines)
        finally:
            await db.dispose()

    return run_sync(read())


def _ledger_section(html: str) -> str:
    return html.split('id="ledger-heading"')[1].split('id="audit-heading"')[0]


def _form_path(uid: int, kid: int, action: str) -> str:
    return f"/console/admin/users/{uid}/" + action.format(kid=kid)


def test_a_non_operator_gets_404_from_every_page_and_form(
    gw: Gateway, member: httpx.Client
) -> None:
    uid, kid = _subject(gw)
    for page in PAGES:
        answer = member.get(page.format(uid=uid))
        assert answer.status_code == 404, page
        assert "text/html" in answer.headers["content-type"]
    token = csrf_token(member)
    balance_before = gw.op("GET", f"/users/{uid}/balance")
    audit_before = _audit(gw, uid)
    for action, fields in FORMS:
        answer = member.post(_form_path(uid, kid, action), data={**fields, "csrf_token": token})
        assert answer.status_code == 404, action
    assert gw.op("GET", f"/users/{uid}/balance") == balance_before
    assert _audit(gw, uid) == audit_before


def test_signed_out_visitors_are_sent_to_the_login(gw: Gateway) -> None:
    with new_browser(gw) as anonymous:
        for page in PAGES:
            answer = anonymous.get(page.format(uid=1))
            assert answer.status_code == 303
            assert answer.headers["location"].startswith("/console/login?next=")


def test_every_form_refuses_a_post_without_the_csrf_token(
    gw: Gateway, operator: httpx.Client
) -> None:
    uid, kid = _subject(gw)
    before = _audit(gw, uid)
    for action, fields in FORMS:
        for token in (None, "forged"):
            data = dict(fields) if token is None else {**fields, "csrf_token": token}
            answer = operator.post(_form_path(uid, kid, action), data=data)
            assert answer.status_code == 403, (action, token)
    assert _audit(gw, uid) == before


def test_the_operator_sees_the_overview_and_finds_a_user(
    gw: Gateway, operator: httpx.Client
) -> None:
    uid, _ = _subject(gw)
    email = gw.op("GET", f"/users/{uid}")["email"]
    overview = operator.get("/console/admin/")
    assert overview.status_code == 200
    assert "<svg" in overview.text and "Calls per minute" in overview.text
    assert 'style="' not in overview.text  # the CSP forbids inline style
    found = operator.get("/console/admin/users", params={"q": email.split("@")[0].upper()})
    assert found.status_code == 200 and f'href="/console/admin/users/{uid}"' in found.text
    by_id = operator.get("/console/admin/users", params={"q": str(uid)})
    assert email in by_id.text
    missing = operator.get("/console/admin/users", params={"q": "nobody-at-all"})
    assert "No user" in missing.text
    assert operator.get("/console/admin/users/2147483000").status_code == 404
    chinese = operator.get(f"/console/admin/users/{uid}", cookies={"rg_lang": "zh"})
    assert "修改余额" in chinese.text and "审计记录" in chinese.text
    assert "每分钟调用" in operator.get("/console/admin/", cookies={"rg_lang": "zh"}).text


def _svg(html: str, label_start: str) -> str:
    """The chart whose accessible name starts with ``label_start``."""
    found = re.search(r'<svg[^>]*aria-label="' + re.escape(label_start) + r".*?</svg>", html, re.S)
    assert found is not None, label_start
    return found.group(0)


def test_spend_and_top_ups_are_drawn_on_scales_of_their_own(
    gw: Gateway, operator: httpx.Client, fake: FakeOpenAI
) -> None:
    model = f"overview-{uuid.uuid4().hex[:8]}"
    gw.add_channel(fake, [model])
    gw.op("PUT", f"/models/{model}", json={"input": "1000", "output": "2000"})
    issued = gw.make_user_key()
    gw.credit(issued.user_id, "900000")  # a top-up thousands of times today's spend
    reply = gw.openai(issued.key).chat.completions.create(
        model=model, messages=[{"role": "user", "content": "hi"}]
    )
    assert reply.choices[0].message.content
    gw.wait_for_records(user_id=issued.user_id, model=model)

    page = operator.get("/console/admin/").text
    spend = _svg(page, "Spend per day over the last 30 days, at most ")
    topups = _svg(page, "Top-ups per day over the last 30 days, at most ")
    # today is each chart's peak, so its column fills its own chart's height (120)
    assert re.search(r'class="bar series-spend"[^>]*height="120.0"', spend), spend[-600:]
    assert re.search(r'class="bar series-topup"[^>]*height="120.0"', topups), topups[-600:]
    assert "series-topup" not in spend and "series-spend" not in topups
    assert page.count("Peak: ") == 3  # calls, spend, top-ups: each names its own peak
    assert '<th scope="col" class="num">Top-ups</th>' in page  # the figures, as a table


@pytest.mark.parametrize(
    ("fields", "field", "message"),
    [
        ({"kind": "topup", "amount": "abc", "memo": "m"}, "amount", "Enter an amount"),
        ({"kind": "topup", "amount": "1.0000001", "memo": "m"}, "amount", "Enter an amount"),
        ({"kind": "topup", "amount": "-5", "memo": "m"}, "amount", "must be more than zero"),
        ({"kind": "free_grant", "amount": "0", "memo": "m"}, "amount", "zero changes nothing"),
        ({"kind": "adjustment", "amount": "1e400", "memo": "m"}, "amount", "Enter an amount"),
        ({"kind": "topup", "amount": "5", "memo": ""}, "memo", "Say why in the memo"),
        ({"kind": "bonus", "amount": "5", "memo": "m"}, "kind", "Choose a top-up"),
    ],
)
def test_bad_amounts_are_form_errors_that_change_nothing(
    gw: Gateway, operator: httpx.Client, fields: dict[str, str], field: str, message: str
) -> None:
    uid, _ = _subject(gw)
    path = f"/console/admin/users/{uid}"
    before = gw.op("GET", f"/users/{uid}/balance")
    answer = operator.post(
        path + "/credit", data={**fields, "csrf_token": csrf_token(operator, path)}
    )
    assert answer.status_code == 400
    assert message in answer.text
    assert f'id="{field}-error"' in answer.text
    assert 'aria-invalid="true"' in answer.text
    assert f'value="{fields["amount"]}"' in answer.text  # the operator's input is kept
    assert gw.op("GET", f"/users/{uid}/balance") == before


def test_each_action_is_done_and_audited_with_the_operator_as_actor(
    gw: Gateway, operator: httpx.Client
) -> None:
    uid, kid = _subject(gw)
    operator_id = next(u["id"] for u in gw.op("GET", "/users") if u["email"] == OPERATOR)
    kind = gw.op(
        "POST",
        "/package-types",
        json={"name": f"pack-{uuid.uuid4().hex[:6]}", "amount": "3", "validity_days": 7},
    )
    path = f"/console/admin/users/{uid}"
    token = csrf_token(operator, path)
    before = int(gw.op("GET", f"/users/{uid}/ledger")["wallet"]["balance"])
    steps = [
        ("credit", {"kind": "topup", "amount": "12.345678", "memo": "wire 42"}, "credited"),
        ("credit", {"kind": "adjustment", "amount": "-0.5", "memo": "refund fix"}, "credited"),
        ("package", {"type_id": str(kind["id"])}, "package-granted"),
        ("group", {"group": "partner"}, "group-set"),
        (f"keys/{kid}/disable", {}, "key-disabled"),
        (f"keys/{kid}/enable", {}, "key-enabled"),
        ("disable", {}, "disabled"),
        ("enable", {}, "enabled"),
    ]
    for action, fields, done in steps:
        answer = operator.post(f"{path}/{action}", data={**fields, "csrf_token": token})
        assert answer.status_code == 303, (action, answer.text)
        assert answer.headers["location"] == f"{path}?done={done}"
    after = int(gw.op("GET", f"/users/{uid}/ledger")["wallet"]["balance"])
    assert after - before == 12_345_678 - 500_000
    assert gw.op("GET", f"/users/{uid}")["group"] == "partner"
    page = operator.get(f"{path}?done=credited").text
    assert format_money(after) in page and "wire 42" in page and kind["name"] in page
    lines = {line.action: line for line in reversed(_audit(gw, uid))}  # newest wins
    for action in (
        "balance.topup",
        "balance.adjustment",
        "package.grant",
        "user.group",
        "key.disable",
        "key.enable",
        "user.disable",
        "user.enable",
    ):
        assert lines[action].actor_id == operator_id, action
    assert lines["balance.topup"].detail == {"amount": 12_345_678, "memo": "wire 42"}


def test_another_users_key_and_unknown_ids_are_404(gw: Gateway, operator: httpx.Client) -> None:
    uid, _ = _subject(gw)
    _, other_key = _subject(gw)
    token = csrf_token(operator)
    answer = operator.post(
        f"/console/admin/users/{uid}/keys/{other_key}/disable", data={"csrf_token": token}
    )
    assert answer.status_code == 404
    unknown = operator.post(
        "/console/admin/users/2147483000/credit",
        data={"kind": "topup", "amount": "1", "memo": "m", "csrf_token": token},
    )
    assert unknown.status_code == 404


def test_unknown_groups_and_package_types_are_form_errors(
    gw: Gateway, operator: httpx.Client
) -> None:
    uid, _ = _subject(gw)
    path = f"/console/admin/users/{uid}"
    token = csrf_token(operator, path)
    group = operator.post(path + "/group", data={"group": "made-up", "csrf_token": token})
    assert group.status_code == 400 and "Choose one of the configured groups" in group.text
    package = operator.post(path + "/package", data={"type_id": "999999", "csrf_token": token})
    assert package.status_code == 400 and "Choose a package type" in package.text
    assert gw.op("GET", f"/users/{uid}")["group"] == ""


def test_the_operator_cannot_disable_their_own_account(gw: Gateway, operator: httpx.Client) -> None:
    operator_id = next(u["id"] for u in gw.op("GET", "/users") if u["email"] == OPERATOR)
    path = f"/console/admin/users/{operator_id}"
    answer = operator.post(path + "/disable", data={"csrf_token": csrf_token(operator, path)})
    assert answer.status_code == 409
    assert "cannot disable your own account" in answer.text
    assert operator.get("/console/admin/").status_code == 200


def test_the_ledger_and_the_search_page_by_cursor_in_the_url(
    gw: Gateway, operator: httpx.Client
) -> None:
    uid, _ = _subject(gw)
    for n in range(24):
        gw.credit(uid, f"0.{n + 1:06d}")  # 25 entries with the first top-up
    path = f"/console/admin/users/{uid}"
    first = operator.get(path).text
    older = re.search(r'href="([^"]*\?ledger=[^"&]+)[^"]*" rel="next">Older entries', first)
    assert older is not None
    ledger = _ledger_section(first)
    assert "0.000024" in ledger and "0.000001" not in ledger  # newest first, 20 a page
    second = operator.get(older.group(1).replace("&amp;", "&")).text
    assert "0.000001" in _ledger_section(second) and "0.000024" not in _ledger_section(second)
    assert "Newest entries" in second and "Older entries" not in second

    prefix = f"page-{uuid.uuid4().hex[:6]}"
    ids = [gw.create_user(f"{prefix}-{n}@example.test")["id"] for n in range(52)]
    one = operator.get("/console/admin/users", params={"q": prefix}).text
    more = re.search(r'href="(/console/admin/users\?q=[^"]+after=[^"]+)" rel="next"', one)
    assert more is not None
    two = operator.get(more.group(1).replace("&amp;", "&")).text
    listed = [
        set(map(int, re.findall(r'href="/console/admin/users/(\d+)"', p))) for p in (one, two)
    ]
    assert len(listed[0]) == 50 and listed[0] | listed[1] == set(ids)
    assert not listed[0] & listed[1]
