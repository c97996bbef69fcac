"""The keys page and the account's passkey forms over real HTTP (both databases): CSRF
refusal on every POST, another user's key and passkey ids are the 404 page on every page
and form, validation errors are shown in the form (400, never a 500), the secret is shown
once, and the relay takes the key with the limits the form gave it.

Signing in is the pages' own flow (tests/integration/test_console_sessions.py).
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import httpx
import pytest
from openai import AuthenticationError, OpenAI
from sqlalchemy import select

from relaygate.accounts.models import AuditEntry, Passkey, User
from relaygate.db.engine import Database
from tests.harness import Gateway, run_sync
from tests.integration.console import csrf_token, new_browser, new_email, sign_in

SECRET = re.compile(r'id="new-key"[^>]*value="(sk-[^"]+)"')
ECHO = "relaygate-echo"


@contextmanager
def _signed_in(gw: Gateway, email: str = "", credit: str = "") -> Iterator[httpx.Client]:
    """A signed-in browser; ``credit`` tops the new account up first (calls cost money)."""
    email = email or new_email("keys")
    with new_browser(gw) as browser:
        sign_in(gw, browser, email)
        if credit:
            gw.credit(_user_id(gw, email), credit)
        yield browser


def _user_id(gw: Gateway, email: str) -> int:
    async def run() -> int:
        db = Database(gw.db_url)
        try:
            async with db.session() as session:
                found = await session.scalar(select(User.id).where(User.email == email))
        finally:
            await db.dispose()
        assert found is not None
        return found

    return run_sync(run())


def _create(browser: httpx.Client, **fields: Any) -> tuple[int, str]:
    """Create a key through the form; the key id and the secret the result page shows."""
    data = {
        "csrf_token": csrf_token(browser),
        "remark": "ci",
        "scope": "all",
        "max_fee": "0",
        **fields,
    }
    done = browser.post("/console/keys/new", data=data)
    assert done.status_code == 303, done.text
    location = done.headers["location"]
    found = re.fullmatch(r"/console/keys/(\d+)/created", location)
    assert found is not None, location
    page = browser.get(location)
    secret = SECRET.search(page.text)
    assert secret is not None, page.text
    return int(found.group(1)), secret.group(1)


def test_a_key_is_created_shown_once_and_works(gateway: Gateway) -> None:
    with _signed_in(gateway, credit="5") as browser:
        key_id, secret = _create(
            browser,
            remark="server",
            scope="some",
            models=ECHO,
            expires="2099-01-31",
            max_fee="2.5",
            rpm_limit="100",
        )
        again = browser.get(f"/console/keys/{key_id}/created")
        assert again.status_code == 200 and secret not in again.text
        listing = browser.get("/console/keys").text
        assert secret not in listing and secret[:7] in listing
        assert "2.500000" in listing and ECHO in listing
        client = OpenAI(base_url=gateway.url + "/v1", api_key=secret, max_retries=0)
        answer = client.chat.completions.create(
            model=ECHO, messages=[{"role": "user", "content": "hi"}]
        )
        assert answer.choices[0].message.content
        with pytest.raises(AuthenticationError, match="not permitted"):
            client.chat.completions.create(
                model="gpt-4o-mini", messages=[{"role": "user", "content": "hi"}]
            )


def test_every_post_needs_the_csrf_token(gateway: Gateway) -> None:
    with _signed_in(gateway) as browser:
        key_id, _ = _create(browser)
        posts = {
            "/console/keys/new": {"remark": "x", "scope": "all", "max_fee": "0"},
            f"/console/keys/{key_id}": {"remark": "y", "scope": "all", "max_fee": "0"},
            f"/console/keys/{key_id}/disable": {},
            f"/console/keys/{key_id}/enable": {},
            f"/console/keys/{key_id}/delete": {},
            "/console/account/passkeys/1/rename": {"name": "x"},
            "/console/account/passkeys/1/delete": {},
        }
        for path, data in posts.items():
            for token in ({}, {"csrf_token": "forged"}):
                refused = browser.post(path, data={**data, **token})
                assert refused.status_code == 403, (path, refused.text)
                assert "text/html" in refused.headers["content-type"]
        page = browser.get("/console/keys")
        assert f"/console/keys/{key_id}" in page.text  # neither changed nor deleted
        assert "Disabled" not in page.text


def _passkey_of(gw: Gateway, email: str) -> int:
    """A stored passkey row for ``email``'s account (the ceremony needs a browser; the
    forms only need the row)."""

    user_id = _user_id(gw, email)

    async def run() -> int:
        db = Database(gw.db_url)
        try:
            async with db.session() as session, session.begin():
                row = Passkey(
                    user_id=user_id, credential_id=uuid.uuid4().hex, public_key=b"k", name="laptop"
                )
                session.add(row)
                await session.flush()
                return row.id
        finally:
            await db.dispose()

    return run_sync(run())


def test_another_users_ids_are_404_on_every_page_and_form(gateway: Gateway) -> None:
    owner_email = new_email("keys")
    with _signed_in(gateway, owner_email, credit="5") as owner:
        key_id, secret = _create(owner)
    passkey_id = _passkey_of(gateway, owner_email)
    with _signed_in(gateway) as other:
        token = csrf_token(other)
        for path in (f"/console/keys/{key_id}", f"/console/keys/{key_id}/created"):
            page = other.get(path)
            assert page.status_code == 404 and "text/html" in page.headers["content-type"]
        forms = {
            f"/console/keys/{key_id}": {"remark": "mine now", "scope": "all", "max_fee": "0"},
            f"/console/keys/{key_id}/disable": {},
            f"/console/keys/{key_id}/enable": {},
            f"/console/keys/{key_id}/delete": {},
            f"/console/account/passkeys/{passkey_id}/rename": {"name": "mine"},
            f"/console/account/passkeys/{passkey_id}/delete": {},
        }
        for path, data in forms.items():
            refused = other.post(path, data={"csrf_token": token, **data})
            assert refused.status_code == 404, (path, refused.status_code)
        for path in ("/console/keys/0", "/console/keys/99999999999999999999"):
            assert other.get(path).status_code == 404
    client = OpenAI(base_url=gateway.url + "/v1", api_key=secret, max_retries=0)
    assert client.chat.completions.create(
        model=ECHO, messages=[{"role": "user", "content": "still mine"}]
    ).choices


@pytest.mark.parametrize(
    ("fields", "field", "message"),
    [
        ({"max_fee": "1.0000001"}, "max_fee", "at most six decimals"),
        ({"max_fee": "-1"}, "max_fee", "at most six decimals"),
        ({"max_fee": "lots"}, "max_fee", "at most six decimals"),
        ({"expires": "2000-01-01"}, "expires", "Choose a day after today."),
        ({"expires": "31/01/2099"}, "expires", "YYYY-MM-DD"),
        ({"rpm_limit": "0"}, "rpm_limit", "whole number"),
        ({"tpm_limit": "1.5"}, "tpm_limit", "whole number"),
        ({"concurrency_limit": "99999999999"}, "concurrency_limit", "whole number"),
        ({"scope": "some"}, "models", "at least one model"),
        ({"scope": "some", "models": "not-a-model"}, "models", "from the list"),
        ({"remark": "x" * 501}, "remark", "500 characters"),
    ],
)
def test_bad_input_is_shown_in_the_form(
    sqlite_gateway: Gateway, fields: dict[str, str], field: str, message: str
) -> None:
    with _signed_in(sqlite_gateway) as browser:
        data = {"csrf_token": csrf_token(browser), "remark": "ok", "scope": "all", "max_fee": "0"}
        page = browser.post("/console/keys/new", data={**data, **fields})
        assert page.status_code == 400, page.text
        assert f'id="{field}-error"' in page.text and message in page.text
        assert "Some fields need attention" in page.text
        assert "You have no keys yet" in browser.get("/console/keys").text  # nothing made


def _audit(gw: Gateway, user_id: int) -> list[tuple[str, int | None]]:
    async def run() -> list[tuple[str, int | None]]:
        db = Database(gw.db_url)
        try:
            async with db.session() as session:
                rows = await session.scalars(
                    select(AuditEntry)
                    .where(AuditEntry.subject_user_id == user_id)
                    .order_by(AuditEntry.id)
                )
                return [(row.action, row.actor_id) for row in rows]
        finally:
            await db.dispose()

    return run_sync(run())


def test_edit_keeps_what_was_not_changed_and_disable_stops_calls(gateway: Gateway) -> None:
    email = new_email("keys")
    with _signed_in(gateway, email, credit="5") as browser:
        key_id, secret = _create(browser, expires="2099-01-31", max_fee="3")
        token = csrf_token(browser, f"/console/keys/{key_id}")
        edit = {"csrf_token": token, "remark": "renamed", "scope": "all", "max_fee": "3.000000"}
        done = browser.post(
            f"/console/keys/{key_id}", data={**edit, "expires": "2099-01-31", "tpm_limit": "5000"}
        )
        assert done.status_code == 303 and done.headers["location"] == "/console/keys?done=updated"
        listing = browser.get("/console/keys?done=updated").text
        assert "renamed" in listing and "Key saved." in listing and "5,000 TPM" in listing
        client = OpenAI(base_url=gateway.url + "/v1", api_key=secret, max_retries=0)
        off = browser.post(f"/console/keys/{key_id}/disable", data={"csrf_token": token})
        assert off.status_code == 303
        with pytest.raises(Exception, match="disabled"):
            client.chat.completions.create(model=ECHO, messages=[{"role": "user", "content": "x"}])
        browser.post(f"/console/keys/{key_id}/enable", data={"csrf_token": token})
        assert client.chat.completions.create(
            model=ECHO, messages=[{"role": "user", "content": "x"}]
        ).choices
        gone = browser.post(f"/console/keys/{key_id}/delete", data={"csrf_token": token})
        assert gone.headers["location"] == "/console/keys?done=deleted"
        assert browser.get(f"/console/keys/{key_id}").status_code == 404
    user_id = _user_id(gateway, email)
    actions = [entry for entry in _audit(gateway, user_id) if entry[0].startswith("key.")]
    assert actions == [
        (action, user_id)
        for action in ("key.create", "key.edit", "key.disable", "key.enable", "key.delete")
    ]


def test_the_operators_management_key_is_404_for_a_user(gateway: Gateway) -> None:
    with _signed_in(gateway) as browser:
        token = csrf_token(browser)
        for action in ("disable", "delete"):
            refused = browser.post(f"/console/keys/1/{action}", data={"csrf_token": token})
            assert refused.status_code == 404


def test_passkey_sign_in_refuses_another_site_and_a_bad_answer(gateway: Gateway) -> None:
    with httpx.Client(base_url=gateway.url, timeout=30, follow_redirects=False) as browser:
        foreign = browser.post(
            "/console/login/passkey",
            json={"credential": {}},
            headers={"origin": "https://evil.example", "sec-fetch-site": "cross-site"},
        )
        assert foreign.status_code == 403
        bad = browser.post("/console/login/passkey", json={"credential": {"id": "x"}})
        assert bad.status_code == 400 and "rg_session" not in bad.headers.get("set-cookie", "")
