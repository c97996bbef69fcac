"""The console's browser sessions over real HTTP: magic-link sign-in, the cookie's flags,
rotation (no session fixation), revocation, idle timeout and expiry, CSRF, logout, the
platform key API with a session, and the invitation page (both databases).

Links are read back through the operator's outbox, as an operator without SMTP reads them
from the log. Idle and expired sessions are made by ageing their row in the database (the
same columns the service reads), not by waiting.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import timedelta

import httpx
from sqlalchemy import update

from relaygate.accounts.models import LoginSession
from relaygate.core.clock import utcnow
from relaygate.core.ids import hash_key
from relaygate.db.engine import Database
from tests.harness import Gateway, run_sync
from tests.integration.console import (
    CSRF,
    NEW_KEY,
    csrf_token,
    link_token,
    new_browser,
    new_email,
    sign_in,
)

COOKIE = "rg_session"


def _session_cookie(response: httpx.Response) -> set[str]:
    """The attributes of the ``rg_session`` Set-Cookie, lower-cased, the value first."""
    [cookie] = [c for c in response.headers.get_list("set-cookie") if c.startswith(COOKIE)]
    return {part.strip().lower() for part in cookie.split(";")}


def _age_session(gw: Gateway, token: str, **values: object) -> None:
    async def run() -> None:
        db = Database(gw.db_url)
        try:
            async with db.session() as session, session.begin():
                await session.execute(
                    update(LoginSession)
                    .where(LoginSession.token_hash == hash_key(token))
                    .values(**values)
                )
        finally:
            await db.dispose()

    run_sync(run())


# ---------------------------------------------------------------- sign-in and the cookie


def test_magic_link_sign_in_sets_a_strict_cookie(gateway: Gateway) -> None:
    with new_browser(gateway) as browser:
        done = sign_in(gateway, browser, new_email())
        assert done.headers["location"] == "/console/"
        flags = _session_cookie(done)
        assert any(flag.startswith(f"{COOKIE}=rgs_") for flag in flags)
        assert {"httponly", "path=/", "samesite=lax"} <= flags
        assert "secure" not in flags  # plain http and no session_cookie_secure
        home = browser.get("/console/")
        assert home.status_code == 200
        assert "Dashboard" in home.text
        assert home.headers["content-security-policy"].startswith("default-src 'self'")
        assert home.headers["x-frame-options"] == "DENY"
        assert home.headers["referrer-policy"] == "no-referrer"


def test_the_secure_flag_follows_the_setting(gateway_factory: Callable[..., Gateway]) -> None:
    gw = gateway_factory(session_cookie_secure=True)
    with new_browser(gw) as browser:
        done = sign_in(gw, browser, new_email())
    assert "secure" in _session_cookie(done)


def test_signed_out_pages_redirect_to_the_login_with_next(gateway: Gateway) -> None:
    with new_browser(gateway) as browser:
        response = browser.get("/console/account")
    assert response.status_code == 303
    assert response.headers["location"] == "/console/login?next=/console/account"


def test_the_login_page_answers_the_same_for_unknown_addresses(gateway: Gateway) -> None:
    with new_browser(gateway) as browser:
        first = browser.post("/console/login", data={"email": new_email()})
        bad = browser.post("/console/login", data={"email": "not an address"})
    assert first.status_code == 303
    assert bad.status_code == 400 and "email address" in bad.text


def test_a_get_of_the_link_does_not_consume_it(gateway: Gateway) -> None:
    email = new_email()
    with new_browser(gateway) as browser:
        browser.post("/console/login", data={"email": email})
        token = link_token(gateway, email)
        for _ in range(3):  # a mail scanner's prefetches
            assert browser.get("/console/auth", params={"token": token}).status_code == 200
        assert browser.post("/console/auth", data={"token": token}).status_code == 303
        again = browser.post("/console/auth", data={"token": token})
    assert again.status_code == 400 and "invalid" in again.text


def test_next_is_carried_and_foreign_targets_are_refused(gateway: Gateway) -> None:
    email = new_email()
    with new_browser(gateway) as browser:
        browser.post("/console/login", data={"email": email, "next": "/console/account"})
        token = link_token(gateway, email)
        done = browser.post("/console/auth", data={"token": token})
        assert done.headers["location"] == "/console/account"
        away = browser.get("/console/login", params={"next": "//evil.example/x"})
    assert away.headers["location"] == "/console/"


# ---------------------------------------------------------------- rotation and revocation


def test_a_planted_session_id_is_not_adopted(gateway: Gateway) -> None:
    """Session fixation: an id set before sign-in never becomes the signed-in session."""
    with new_browser(gateway) as attacker:
        sign_in(gateway, attacker, new_email())
        planted = attacker.cookies[COOKIE]
    with new_browser(gateway) as victim:
        victim.cookies.set(COOKIE, planted)
        done = sign_in(gateway, victim, new_email())
        fresh = done.cookies[COOKIE]
        assert fresh != planted
    with new_browser(gateway) as attacker_again:
        attacker_again.cookies.set(COOKIE, planted)  # the planted session ended at sign-in
        assert attacker_again.get("/console/").status_code == 303
        attacker_again.cookies.set(COOKIE, "rgs_made-up-by-the-attacker")
        assert attacker_again.get("/console/").status_code == 303


def test_the_id_changes_at_every_sign_in(gateway: Gateway) -> None:
    email = new_email()
    with new_browser(gateway) as browser:
        first = sign_in(gateway, browser, email).cookies[COOKIE]
        second = sign_in(gateway, browser, email).cookies[COOKIE]
        assert first != second
        assert browser.get("/console/").status_code == 200
    with new_browser(gateway) as old:
        old.cookies.set(COOKIE, first)
        assert old.get("/console/").status_code == 303


def test_a_revoked_session_is_refused_at_once(gateway: Gateway) -> None:
    email = new_email()
    with new_browser(gateway) as laptop, new_browser(gateway) as phone:
        sign_in(gateway, laptop, email)
        sign_in(gateway, phone, email)
        page = laptop.get("/console/account")
        ids = re.findall(r"/console/account/sessions/(\d+)/revoke", page.text)
        assert len(ids) == 2
        current = CSRF.search(page.text)
        assert current is not None
        phone_id = max(ids, key=int)  # the phone signed in last
        revoked = laptop.post(
            f"/console/account/sessions/{phone_id}/revoke", data={"csrf_token": current.group(1)}
        )
        assert revoked.status_code == 303
        assert phone.get("/console/").status_code == 303
        assert laptop.get("/console/").status_code == 200


def test_signing_out_every_other_session_keeps_this_one(gateway: Gateway) -> None:
    email = new_email()
    with new_browser(gateway) as here, new_browser(gateway) as there, new_browser(gateway) as third:
        for browser in (there, third, here):
            sign_in(gateway, browser, email)
        done = here.post(
            "/console/account/sessions/revoke-others", data={"csrf_token": csrf_token(here)}
        )
        assert done.status_code == 303
        assert there.get("/console/").status_code == 303
        assert third.get("/console/").status_code == 303
        page = here.get("/console/account")
        assert len(re.findall(r"/console/account/sessions/(\d+)/revoke", page.text)) == 1


def test_idle_and_expired_sessions_are_refused(gateway: Gateway) -> None:
    with new_browser(gateway) as idle, new_browser(gateway) as old:
        sign_in(gateway, idle, new_email())
        sign_in(gateway, old, new_email())
        assert idle.get("/console/").status_code == 200
        now = utcnow()
        _age_session(gateway, idle.cookies[COOKIE], last_seen_at=now - timedelta(days=8))
        _age_session(gateway, old.cookies[COOKIE], expires_at=now - timedelta(seconds=1))
        assert idle.get("/console/").status_code == 303
        assert old.get("/console/").status_code == 303


# ---------------------------------------------------------------- CSRF and logout


def test_a_foreign_page_cannot_post_a_sign_in(gateway: Gateway) -> None:
    """Login CSRF: a cross-site form posting the attacker's link is refused, unconsumed."""
    email = new_email()
    with new_browser(gateway) as browser:
        browser.post("/console/login", data={"email": email})
        token = link_token(gateway, email)
        foreign = browser.post(
            "/console/auth", data={"token": token}, headers={"Origin": "https://evil.example"}
        )
        fetched = browser.post(
            "/console/auth", data={"token": token}, headers={"Sec-Fetch-Site": "cross-site"}
        )
        assert foreign.status_code == fetched.status_code == 403
        assert COOKIE not in browser.cookies
        here = browser.post("/console/auth", data={"token": token}, headers={"Origin": gateway.url})
        assert here.status_code == 303


def test_posts_without_the_csrf_token_are_refused(gateway: Gateway) -> None:
    with new_browser(gateway) as browser:
        sign_in(gateway, browser, new_email())
        missing = browser.post("/console/logout")
        wrong = browser.post("/console/logout", data={"csrf_token": "forged"})
        header_wrong = browser.post("/console/logout", headers={"X-CSRF-Token": "forged"})
        for refused in (missing, wrong, header_wrong):
            assert refused.status_code == 403
            assert refused.headers["content-type"].startswith("text/html")
            assert "<pre" not in refused.text and "Traceback" not in refused.text
        assert browser.get("/console/").status_code == 200  # still signed in


def test_logout_ends_the_session(gateway: Gateway) -> None:
    with new_browser(gateway) as browser:
        sign_in(gateway, browser, new_email())
        token = browser.cookies[COOKIE]
        out = browser.post("/console/logout", headers={"X-CSRF-Token": csrf_token(browser)})
        assert out.status_code == 303 and out.headers["location"] == "/console/login"
    with new_browser(gateway) as replay:
        replay.cookies.set(COOKIE, token)
        assert replay.get("/console/").status_code == 303


# ---------------------------------------------------------------- the platform key API


def test_the_platform_key_api_accepts_a_session_with_csrf(gateway: Gateway) -> None:
    with new_browser(gateway) as browser:
        sign_in(gateway, browser, new_email())
        csrf = csrf_token(browser)
        made = browser.post(
            "/api/v1/user/admin/new-api-token",
            data={"remark": "from the console", **NEW_KEY},
            headers={"X-CSRF-Token": csrf},
        )
        assert made.status_code == 200, made.text
        key = made.json()["data"]
        assert key.startswith("sk-")
        refused = browser.post("/api/v1/user/admin/new-api-token", data=NEW_KEY)
        assert refused.status_code == 403
        assert refused.json()["statusCode"] == 403
        listed = browser.post("/api/v1/user/admin/get-api-tokens", headers={"X-CSRF-Token": csrf})
        assert listed.status_code == 200
        assert [k["remark"] for k in listed.json()["data"]] == ["from the console"]
        balance = browser.post("/api/v1/user/admin/balance", headers={"X-CSRF-Token": csrf})
        assert balance.json()["data"]["balance"] == "0.000000"
    with new_browser(gateway) as stranger:
        stranger.cookies.set(COOKIE, "rgs_unknown")
        unknown = stranger.post("/api/v1/user/admin/get-api-tokens")
        assert unknown.status_code == 401


def test_management_keys_keep_working(gateway: Gateway) -> None:
    user = gateway.create_user()
    manager = gateway.make_user_key(user_id=user["id"], is_admin=True)
    with gateway.http(manager.key) as http:
        listed = http.post("/api/v1/user/admin/get-api-tokens")
    assert listed.status_code == 200, listed.text


# ---------------------------------------------------------------- the invitation page


def test_the_invitation_page_carries_the_code_to_the_reward(gateway: Gateway) -> None:
    inviter_email = new_email()
    with new_browser(gateway) as inviter:
        sign_in(gateway, inviter, inviter_email)
        csrf = csrf_token(inviter)
        code = inviter.get("/api/v1/user/invite", headers={"X-CSRF-Token": csrf}).json()["data"][
            "code"
        ]
    with new_browser(gateway) as friend:
        page = friend.get(f"/i/{code.lower()}")
        assert page.status_code == 200
        masked = inviter_email[0] + "***"
        assert masked in page.text and inviter_email not in page.text
        accept = f"/console/login?invite={code}"
        assert accept in page.text
        form = friend.get(accept)
        assert f'name="invite" value="{code}"' in form.text
        invitee_email = new_email()
        sign_in(gateway, friend, invitee_email, invite=code)
    users = gateway.op("GET", "/users", params={"limit": 500})
    by_email = {u["email"]: u["id"] for u in users}
    for email in (inviter_email, invitee_email):
        rows = gateway.op("GET", f"/users/{by_email[email]}/packages")
        assert [r["source"] for r in rows] == ["referral"], email


def test_an_unknown_invitation_is_a_friendly_404(gateway: Gateway) -> None:
    with new_browser(gateway) as browser:
        response = browser.get("/i/ZZZZ9999")
    assert response.status_code == 404
    assert response.headers["content-type"].startswith("text/html")
    assert "Page not found" in response.text


def test_pages_speak_chinese_on_request(gateway: Gateway) -> None:
    with new_browser(gateway) as browser:
        by_header = browser.get("/console/login", headers={"Accept-Language": "zh-CN,zh;q=0.9"})
        switched = browser.get("/console/lang", params={"to": "zh", "next": "/console/login"})
        assert switched.status_code == 303
        by_cookie = browser.get("/console/login")
    assert "登录 Relaygate" in by_header.text
    assert "登录 Relaygate" in by_cookie.text
