"""Email sign-in, invite codes and referral rewards over real HTTP (both databases).

Links are read back through the operator's outbox (the log mailer's in-memory copy), as
an operator without SMTP would read them from the log.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx

from tests.harness import Gateway

REFERRAL_TYPE = "$20 Claude Code"


def _email(domain: str = "example.test") -> str:
    return f"Signup-{uuid.uuid4().hex[:10]}@{domain}"


def _login(gw: Gateway, email: str, invite_code: str | None = None) -> httpx.Response:
    body = {"email": email} if invite_code is None else {"email": email, "invite_code": invite_code}
    with gw.http() as http:
        return http.post("/api/v1/auth/login", json=body)


def _last_token(gw: Gateway, email: str) -> str:
    """The token of the last link mailed to ``email`` (sent just after the answer)."""
    deadline = time.monotonic() + 10
    links: list[str] = gw.op("GET", "/outbox", params={"email": email})
    while not links and time.monotonic() < deadline:
        time.sleep(0.02)
        links = gw.op("GET", "/outbox", params={"email": email})
    assert links, f"no link was sent to {email}"
    link = urlsplit(links[-1])
    assert link.path == "/console/auth"  # the console's confirm page; the API takes it too
    return parse_qs(link.query)["token"][0]


def _verify(gw: Gateway, token: str) -> httpx.Response:
    with gw.http() as http:
        return http.get("/api/v1/auth/verify", params={"token": token})


def sign_in(gw: Gateway, email: str, invite_code: str | None = None) -> dict[str, Any]:
    """Log in by magic link and return the verify ``data``."""
    response = _login(gw, email, invite_code)
    assert response.status_code == 200, response.text
    verified = _verify(gw, _last_token(gw, email))
    assert verified.status_code == 200, verified.text
    data: dict[str, Any] = verified.json()["data"]
    return data


def invite_of(gw: Gateway, user_id: int) -> dict[str, Any]:
    """The user's invite data, read with a management key issued by the operator."""
    manager = gw.make_user_key(user_id=user_id, is_admin=True)
    with gw.http(manager.key) as http:
        body = http.get("/api/v1/user/invite").json()
    assert body["statusCode"] == 200, body
    data: dict[str, Any] = body["data"]
    return data


def referral_packages(gw: Gateway, user_id: int) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = gw.op("GET", f"/users/{user_id}/packages")
    return [row for row in rows if row["source"] == "referral"]


def redeem(gw: Gateway, session_token: str, code: str) -> httpx.Response:
    with gw.http(session_token) as http:
        return http.post("/api/v1/user/invite/redeem", json={"code": code})


def _assert_error(response: httpx.Response, status: int) -> None:
    assert response.status_code == status, response.text
    body = response.json()
    assert (body["statusCode"], body["data"]) == (status, None), body


# ---------------------------------------------------------------- sign-in


def test_login_then_verify_creates_the_user_and_a_session(gateway: Gateway) -> None:
    email = _email()
    response = _login(gateway, email)
    assert response.status_code == 200
    assert response.json() == {
        "statusCode": 200,
        "message": response.json()["message"],
        "data": None,
    }
    first = _verify(gateway, _last_token(gateway, email)).json()["data"]
    assert first["is_new"] is True
    assert first["email"] == email.lower()
    assert first["session_token"].startswith("rgs_")
    user = gateway.op("GET", f"/users/{first['user_id']}")
    assert user["email"] == email.lower()
    again = sign_in(gateway, email.upper())
    assert (again["user_id"], again["is_new"]) == (first["user_id"], False)
    assert again["session_token"] != first["session_token"]


def test_login_answers_alike_for_known_and_unknown_addresses(gateway: Gateway) -> None:
    known = sign_in(gateway, _email())["email"]
    answers = [_login(gateway, email) for email in (known, _email())]
    assert [a.status_code for a in answers] == [200, 200]
    assert answers[0].json() == answers[1].json()


def test_a_link_works_once(gateway: Gateway) -> None:
    email = _email()
    _login(gateway, email)
    token = _last_token(gateway, email)
    assert _verify(gateway, token).status_code == 200
    _assert_error(_verify(gateway, token), 400)
    _assert_error(_verify(gateway, "not-a-token"), 400)


def test_verify_accepts_post(gateway: Gateway) -> None:
    email = _email()
    _login(gateway, email)
    with gateway.http() as http:
        response = http.post("/api/v1/auth/verify", json={"token": _last_token(gateway, email)})
    assert response.status_code == 200, response.text
    assert response.json()["data"]["is_new"] is True


def test_malformed_email_and_unknown_invite_code_are_refused(gateway: Gateway) -> None:
    _assert_error(_login(gateway, "not-an-address"), 400)
    _assert_error(_login(gateway, _email(), invite_code="ZZZZZZZZ"), 400)


def test_the_outbox_is_for_operators_only(gateway: Gateway) -> None:
    user = gateway.make_user_key(is_admin=True)
    with gateway.http(user.key) as http:
        response = http.get("/api/v1/operator/outbox", params={"email": _email()})
    _assert_error(response, 403)


# ---------------------------------------------------------------- invite codes


def test_every_user_has_an_invite_code_and_links(gateway: Gateway) -> None:
    user = sign_in(gateway, _email())
    data = invite_of(gateway, user["user_id"])
    code = data["code"]
    assert len(code) == 8 and code.isalnum() and code.upper() == code
    assert data["link"] == f"{gateway.settings.base_url}/i/{code}"
    assert data["aff_link"] == f"{gateway.settings.base_url}/?aff={code}"
    assert data["invited"] == 0
    older = gateway.create_user()  # made by the operator, without a code: made lazily
    lazy = invite_of(gateway, older["id"])
    assert lazy["code"] == invite_of(gateway, older["id"])["code"]


def test_the_short_link_is_the_invitation_page(gateway: Gateway) -> None:
    owner = gateway.create_user()
    code = invite_of(gateway, owner["id"])["code"]
    with gateway.http(follow_redirects=False) as http:
        response = http.get(f"/i/{code}")
        lower = http.get(f"/i/{code.lower()}")
        unknown = http.get("/i/AB12CD34")
    assert response.status_code == 200
    assert f"/console/login?invite={code}" in response.text
    assert lower.status_code == 200
    assert unknown.status_code == 404


# ---------------------------------------------------------------- referral rewards


def _assert_rewarded(gw: Gateway, *user_ids: int) -> None:
    for user_id in user_ids:
        [package] = referral_packages(gw, user_id)
        assert package["name"] == REFERRAL_TYPE
        assert package["amount"] == "20.000000"
        assert set(package["scope_routes"]) == {"cc-omg", "codex-omg"}


def test_signing_up_with_a_code_rewards_both_sides(gateway: Gateway) -> None:
    inviter = sign_in(gateway, _email())
    code = invite_of(gateway, inviter["user_id"])["code"]
    invitee = sign_in(gateway, _email(), invite_code=code.lower())
    assert invitee["is_new"] is True
    _assert_rewarded(gateway, inviter["user_id"], invitee["user_id"])
    assert invite_of(gateway, inviter["user_id"])["invited"] == 1


def test_an_invitee_is_rewarded_once(gateway: Gateway) -> None:
    first = sign_in(gateway, _email())
    second = sign_in(gateway, _email())
    invitee = sign_in(gateway, _email(), invite_code=invite_of(gateway, first["user_id"])["code"])
    other_code = invite_of(gateway, second["user_id"])["code"]
    _assert_error(redeem(gateway, invitee["session_token"], other_code), 400)
    assert referral_packages(gateway, second["user_id"]) == []
    assert len(referral_packages(gateway, invitee["user_id"])) == 1


def test_a_returning_user_does_not_apply_a_code_again(gateway: Gateway) -> None:
    inviter = sign_in(gateway, _email())
    code = invite_of(gateway, inviter["user_id"])["code"]
    email = _email()
    sign_in(gateway, email, invite_code=code)
    again = sign_in(gateway, email, invite_code=code)
    assert again["is_new"] is False
    assert len(referral_packages(gateway, inviter["user_id"])) == 1


def test_self_invites_are_refused(gateway: Gateway) -> None:
    user = sign_in(gateway, _email())
    own = invite_of(gateway, user["user_id"])["code"]
    _assert_error(redeem(gateway, user["session_token"], own), 400)
    local, domain = user["email"].split("@")
    tagged = sign_in(gateway, f"{local}+again@{domain}")
    _assert_error(redeem(gateway, tagged["session_token"], own), 400)
    assert referral_packages(gateway, user["user_id"]) == []


def test_a_denied_domain_is_recorded_but_not_rewarded(gateway: Gateway) -> None:
    inviter = sign_in(gateway, _email())
    code = invite_of(gateway, inviter["user_id"])["code"]
    invitee = sign_in(gateway, _email("mailinator.com"))
    response = redeem(gateway, invitee["session_token"], code)
    assert response.status_code == 200, response.text
    data = response.json()["data"]
    assert data["rewarded"] is False
    assert "mailinator.com" in data["reason"]
    assert referral_packages(gateway, inviter["user_id"]) == []
    assert referral_packages(gateway, invitee["user_id"]) == []


def test_a_code_entered_later_with_the_session_token_rewards_both(gateway: Gateway) -> None:
    inviter = sign_in(gateway, _email())
    code = invite_of(gateway, inviter["user_id"])["code"]
    invitee = sign_in(gateway, _email())
    assert referral_packages(gateway, invitee["user_id"]) == []
    response = redeem(gateway, invitee["session_token"], code)
    assert response.status_code == 200, response.text
    assert response.json()["data"] == {"rewarded": True, "reason": None}
    _assert_rewarded(gateway, inviter["user_id"], invitee["user_id"])


def test_redeem_needs_a_known_code_and_a_caller(gateway: Gateway) -> None:
    user = sign_in(gateway, _email())
    _assert_error(redeem(gateway, user["session_token"], "ZZZZZZZZ"), 400)
    _assert_error(redeem(gateway, "rgs_unknown", "ZZZZZZZZ"), 401)
    with gateway.http() as http:
        _assert_error(http.post("/api/v1/user/invite/redeem", json={"code": "AB12CD34"}), 401)


def test_codes_are_accepted_only_soon_after_sign_up(
    gateway_factory: Callable[..., Gateway],
) -> None:
    gw = gateway_factory(referral_redeem_days=0)
    inviter = sign_in(gw, _email())
    invitee = sign_in(gw, _email())
    _assert_error(
        redeem(gw, invitee["session_token"], invite_of(gw, inviter["user_id"])["code"]), 400
    )
