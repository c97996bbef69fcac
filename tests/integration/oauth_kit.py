"""Helpers of the OAuth tests: a developer with an app, a user who signs in and approves
through the consent page over HTTP, Authlib's client for the exchange, and the ledger
check (every wallet equals the sum of its entries)."""

from __future__ import annotations

import html
import re
import uuid
from dataclasses import dataclass
from typing import Any

import httpx
from authlib.integrations.httpx_client import OAuth2Client
from sqlalchemy import func, select

from relaygate.accounts.models import User
from relaygate.billing.models import LedgerEntry, Wallet
from relaygate.db.engine import Database
from relaygate.oauth.models import OAuthApp
from tests.harness import Gateway, run_sync
from tests.integration.test_console_sessions import sign_in

CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')
HIDDEN = re.compile(r'<input type="hidden" name="([a-z_]+)" value="([^"]*)">')
TOKEN_URL = "/api/v1/user/oauth/issue-token"
REDIRECT = "https://app.example.test/callback"


@dataclass
class App:
    client_id: str
    client_secret: str
    owner_id: int
    developer: httpx.Client  # signed in as the owner


def email() -> str:
    return f"oauth-{uuid.uuid4().hex[:10]}@example.test"


def browser(gw: Gateway) -> httpx.Client:
    return httpx.Client(base_url=gw.url, timeout=30, follow_redirects=False)


def csrf_of(client: httpx.Client) -> str:
    page = client.get("/console/account")
    found = CSRF.search(page.text)
    assert found is not None, page.text
    return found.group(1)


def user_id_of(gw: Gateway, mail: str) -> int:
    async def find() -> int:
        db = Database(gw.db_url)
        try:
            async with db.session() as session:
                return int(await session.scalar(select(User.id).where(User.email == mail)) or 0)
        finally:
            await db.dispose()

    found = run_sync(find())
    assert found, mail
    return found


def register(gw: Gateway, *, public: bool = False, scope: str = "general_api_access") -> App:
    """A developer signs in and registers an app through the JSON route (session + CSRF)."""
    dev = browser(gw)
    mail = email()
    sign_in(gw, dev, mail)
    body = {
        "name": "Example app",
        "homepage": "https://app.example.test",
        "redirect_domains": "app.example.test, other.example.test",
        "scope": scope,
        "public": "true" if public else "false",
    }
    got = dev.post("/api/v1/user/oauth/apps", data=body, headers={"X-CSRF-Token": csrf_of(dev)})
    assert got.status_code == 200, got.text
    data = got.json()["data"]
    assert len(data["client_id"]) == 24 and len(data["client_secret"]) == 32
    return App(data["client_id"], data["client_secret"], user_id_of(gw, mail), dev)


def signed_in_user(gw: Gateway, amount: str = "10") -> tuple[httpx.Client, int]:
    person = browser(gw)
    mail = email()
    sign_in(gw, person, mail)
    uid = user_id_of(gw, mail)
    if amount:
        gw.credit(uid, amount)
    return person, uid


def approve(person: httpx.Client, url: str, decision: str = "approve") -> httpx.Response:
    """Open the consent page at ``url`` and press a button; the 303 (or an error page)."""
    page = person.get(url)
    assert page.status_code == 200, page.text
    fields = {name: html.unescape(value) for name, value in HIDDEN.findall(page.text)}
    found = CSRF.search(page.text)
    assert found is not None
    return person.post(
        "/next/v1/oauth", data={**fields, "csrf_token": found.group(1), "decision": decision}
    )


def _unwrap(response: httpx.Response) -> httpx.Response:
    """Authlib's compliance hook: the platform envelope as an RFC 6749 token answer."""
    body = response.json()
    if response.status_code == 200:
        token = {"access_token": body["data"]["token"], "token_type": "bearer"}
        return httpx.Response(200, json=token, request=response.request)
    error = {"error": "invalid_grant", "error_description": body["message"]}
    return httpx.Response(response.status_code, json=error, request=response.request)


def client(
    gw: Gateway,
    app: App,
    *,
    pkce: bool,
    secret: str | None = None,
    scope: str = "general_api_access",
) -> OAuth2Client:
    oauth = OAuth2Client(
        client_id=app.client_id,
        client_secret=app.client_secret if secret is None else secret,
        scope=scope,
        redirect_uri=REDIRECT,
        token_endpoint_auth_method="client_secret_post",
        code_challenge_method="S256" if pkce else None,
        base_url=gw.url,
        timeout=30,
    )
    oauth.register_compliance_hook("access_token_response", _unwrap)
    return oauth


@dataclass
class Grant:
    token: str
    user_id: int
    person: httpx.Client  # the user, signed in
    location: str  # the callback URL the code came back on


def authorized(
    gw: Gateway, app: App, *, scope: str = "general_api_access", amount: str = "10"
) -> Grant:
    """A new user (credited ``amount``) approves ``app``; Authlib exchanges the code (PKCE)."""
    person, uid = signed_in_user(gw, amount)
    oauth = client(gw, app, pkce=True, scope=scope)
    verifier = "v" * 64
    url, _ = oauth.create_authorization_url("/next/v1/oauth", code_verifier=verifier)
    done = approve(person, url)
    assert done.status_code == 303, done.text
    location = done.headers["location"]
    token = oauth.fetch_token(TOKEN_URL, authorization_response=location, code_verifier=verifier)
    return Grant(token["access_token"], uid, person, location)


def app_id_of(gw: Gateway, client_id: str) -> int:
    async def find() -> int:
        db = Database(gw.db_url)
        try:
            async with db.session() as session:
                found = await session.scalar(
                    select(OAuthApp.id).where(OAuthApp.client_id == client_id)
                )
                return int(found or 0)
        finally:
            await db.dispose()

    return run_sync(find())


def revoke(gw: Gateway, grant: Grant, app: App) -> None:
    """The user revokes the app on the console's authorised-apps page."""
    url = f"/console/apps/authorized/{app_id_of(gw, app.client_id)}/revoke"
    done = grant.person.post(url, headers={"X-CSRF-Token": csrf_of(grant.person)})
    assert done.status_code == 303, done.text


def ledger_matches(gw: Gateway, *user_ids: int) -> None:
    """Each wallet equals the sum of its ledger entries (and the operator's, always)."""

    async def check() -> None:
        db = Database(gw.db_url)
        try:
            async with db.session() as session:
                operator = await session.scalar(
                    select(User.id).where(User.is_operator.is_(True)).order_by(User.id).limit(1)
                )
                for uid in {*user_ids, operator}:
                    wallet = await session.get(Wallet, uid)
                    total = await session.scalar(
                        select(func.coalesce(func.sum(LedgerEntry.amount), 0)).where(
                            LedgerEntry.user_id == uid
                        )
                    )
                    assert (wallet.balance if wallet else 0) == int(total or 0), uid
        finally:
            await db.dispose()

    run_sync(check())


def envelope(response: httpx.Response) -> Any:
    return response.json()
