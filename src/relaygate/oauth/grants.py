"""Authorization codes and access tokens: the authorization-code grant (§5.2–5.4) with
PKCE S256 (RFC 7636), checked so nothing is redirected to an unverified URI.

A code is single use: it is marked used by one conditional UPDATE, so two concurrent
exchanges cannot both win; a second exchange of a used code revokes the token the first
issued (RFC 6749 §4.1.2: the code has leaked)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from urllib.parse import urlsplit

from sqlalchemy import func, select, update

from relaygate.accounts.audit import stage
from relaygate.accounts.models import User
from relaygate.core.clock import utcnow
from relaygate.core.errors import InvalidRequest, NotFound
from relaygate.db.engine import Database
from relaygate.oauth.apps import view
from relaygate.oauth.keys import relay_key, revoke_tokens
from relaygate.oauth.models import OAuthApp, OAuthCharge, OAuthCode, OAuthToken
from relaygate.oauth.records import (
    TOKEN_INVALID_MESSAGE,
    AppView,
    AuthorizedApp,
    GrantedToken,
    OAuthTokenInvalid,
    TokenOwner,
)
from relaygate.oauth.scopes import GENERAL, scope_set
from relaygate.oauth.secrets import TOKEN_PREFIX, digest, new_code, new_token, pkce_matches

__all__ = ["AuthorizeRequest", "Grants"]


@dataclass(frozen=True, slots=True)
class AuthorizeRequest:
    """The authorize page's parameters (§5.2), as the browser sent them."""

    response_type: str
    client_id: str
    redirect_uri: str
    scope: str
    code_challenge: str = ""
    code_challenge_method: str = ""


def _host(uri: str) -> str | None:
    try:
        parts = urlsplit(uri)
    except ValueError:
        return None
    if parts.scheme not in ("http", "https") or not parts.hostname or parts.fragment:
        return None
    return parts.hostname.lower()


class Grants:
    def __init__(self, db: Database, code_seconds: int, forget: Callable[[str], None]) -> None:
        self.db = db
        self.code_seconds = code_seconds
        self.forget = forget  # AccountService.cache.invalidate: a revoked token's keys

    async def check(self, req: AuthorizeRequest) -> AppView:
        """The app the request is for, when every parameter checks out; else an error the
        page shows itself (never a redirect: the URI is not verified)."""
        async with self.db.session() as session:
            row = await session.scalar(select(OAuthApp).where(OAuthApp.client_id == req.client_id))
        if row is None:
            raise InvalidRequest("Unknown client_id.", param="client_id")
        if req.response_type != "code":
            raise InvalidRequest("response_type must be 'code'.", param="response_type")
        if _host(req.redirect_uri) not in row.redirect_domains:
            raise InvalidRequest(
                "redirect_uri is not on a domain this app registered.", param="redirect_uri"
            )
        if not req.scope.strip() or scope_set(req.scope) != scope_set(row.scope):
            raise InvalidRequest("scope must list exactly the app's scope.", param="scope")
        if req.code_challenge or req.code_challenge_method:
            if req.code_challenge_method != "S256" or not 43 <= len(req.code_challenge) <= 128:
                raise InvalidRequest(
                    "PKCE needs code_challenge_method=S256 and a 43-128 character challenge.",
                    param="code_challenge",
                )
        elif row.public:
            raise InvalidRequest("This app must use PKCE (S256).", param="code_challenge")
        return view(row)

    async def authorize(self, user_id: int, req: AuthorizeRequest) -> str:
        """The user approved: a new code bound to the app, user, redirect, scope, challenge."""
        app = await self.check(req)
        code = new_code()
        async with self.db.session() as session, session.begin():
            session.add(
                OAuthCode(
                    code_hash=digest(code),
                    app_id=app.id,
                    user_id=user_id,
                    redirect_uri=req.redirect_uri,
                    scope=app.scope,  # the stored form (the request may order it otherwise)
                    challenge=req.code_challenge,
                    expires_at=utcnow() + timedelta(seconds=self.code_seconds),
                )
            )
            stage(
                session,
                "oauth.authorized",
                actor_id=user_id,
                subject_user_id=user_id,
                detail={"client_id": app.client_id},
            )
        return code

    async def issue(
        self, client_id: str, secret: str, code: str, verifier: str = "", redirect_uri: str = ""
    ) -> GrantedToken:
        """The token for a code (§5.4). Every failure is the same 401 so a caller learns
        nothing about which part was wrong. ``redirect_uri``, when a client sends it (as
        RFC 6749 §4.1.3 clients do), must be the one the code was issued for."""
        refused = OAuthTokenInvalid(TOKEN_INVALID_MESSAGE)
        now = utcnow()
        async with self.db.session() as session, session.begin():
            app = await session.scalar(select(OAuthApp).where(OAuthApp.client_id == client_id))
            found = await session.scalar(
                select(OAuthCode).where(OAuthCode.code_hash == digest(code))
            )
            if app is None or found is None or found.app_id != app.id:
                raise refused
            if not app.public and digest(secret) != app.secret_hash:
                raise refused
            if found.used_at is not None:
                await self._burn(found.id)
                raise refused
            if found.expires_at <= now or redirect_uri not in ("", found.redirect_uri):
                raise refused
            if found.challenge and not pkce_matches(verifier, found.challenge):
                raise refused
            won = await session.execute(
                update(OAuthCode)
                .where(OAuthCode.id == found.id, OAuthCode.used_at.is_(None))
                .values(used_at=now)
            )
            if won.rowcount != 1:  # type: ignore[attr-defined]
                raise refused
            token = new_token()
            key = None
            if GENERAL in scope_set(found.scope):  # the token is an API key too (keys.py)
                key = relay_key(token, found.user_id, app.name)
                session.add(key)
                await session.flush()
            session.add(
                OAuthToken(
                    token_hash=digest(token),
                    app_id=app.id,
                    user_id=found.user_id,
                    code_id=found.id,
                    scope=found.scope,
                    api_key_id=None if key is None else key.id,
                )
            )
        return GrantedToken(found.user_id, app.client_id, token)

    async def _burn(self, code_id: int) -> None:
        """A used code presented again: the tokens it issued are revoked, their keys
        disabled (own transaction, committed although the exchange itself is refused)."""
        async with self.db.session() as session, session.begin():
            done = await revoke_tokens(session, OAuthToken.code_id == code_id)
        for key_hash in done.key_hashes:
            self.forget(key_hash)

    async def authenticate(self, presented: str | None) -> TokenOwner:
        """Who a Bearer ``omg-oat-v1-…`` acts for; read on every call, so a revoked
        token is refused at once."""
        if not presented or not presented.startswith(TOKEN_PREFIX):
            raise OAuthTokenInvalid(TOKEN_INVALID_MESSAGE)
        async with self.db.session() as session:
            row = (
                await session.execute(
                    select(OAuthToken, OAuthApp.owner_id)
                    .join(OAuthApp, OAuthApp.id == OAuthToken.app_id)
                    .join(User, User.id == OAuthToken.user_id)
                    .where(OAuthToken.token_hash == digest(presented), User.is_disabled.is_(False))
                )
            ).first()
        if row is None or row[0].revoked_at is not None:
            raise OAuthTokenInvalid(TOKEN_INVALID_MESSAGE)
        token = row[0]
        return TokenOwner(token.id, token.user_id, token.app_id, int(row[1]), token.scope)

    async def revoke_app(self, user_id: int, app_id: int) -> int:
        """Every live token the user gave this app, revoked, and their keys disabled (this
        process's key cache forgets them now); 404 when there is none."""
        async with self.db.session() as session, session.begin():
            done = await revoke_tokens(
                session, OAuthToken.user_id == user_id, OAuthToken.app_id == app_id
            )
            if done.tokens == 0:
                raise NotFound("No such authorised app.")
            stage(
                session,
                "oauth.revoked",
                actor_id=user_id,
                subject_user_id=user_id,
                detail={"app_id": app_id, "tokens": done.tokens, "keys": len(done.key_hashes)},
            )
        for key_hash in done.key_hashes:
            self.forget(key_hash)
        return done.tokens

    async def authorized(self, user_id: int) -> list[AuthorizedApp]:
        """The apps holding a live token of the user, with what each charged them."""
        async with self.db.session() as session:
            rows = (
                await session.execute(
                    select(OAuthApp, func.count(OAuthToken.id), func.min(OAuthToken.created_at))
                    .join(OAuthToken, OAuthToken.app_id == OAuthApp.id)
                    .where(OAuthToken.user_id == user_id, OAuthToken.revoked_at.is_(None))
                    .group_by(OAuthApp.id)
                    .order_by(OAuthApp.id)
                )
            ).tuples()
            apps = list(rows)
            charged = dict(
                (
                    await session.execute(
                        select(OAuthCharge.app_id, func.sum(OAuthCharge.amount))
                        .where(OAuthCharge.user_id == user_id)
                        .group_by(OAuthCharge.app_id)
                    )
                ).all()
            )
        return [
            AuthorizedApp(
                app.id,
                app.name,
                app.homepage,
                app.logo_url,
                app.scope,
                int(count),
                int(charged.get(app.id) or 0),
                first,
            )
            for app, count, first in apps
        ]
