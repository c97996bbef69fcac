"""The API keys behind OAuth tokens (docs/oauth.md "The token as an API key").

A token whose scope has ``general_api_access`` is written with an ``api_keys`` row of
the user (``purpose`` "oauth", the token's own digest: ``hash_key`` and the tokens'
``digest`` are both SHA-256 hex), so every route that authenticates a key — the relay,
the key cache, the bills — takes the token unchanged and bills its calls to the user
under that key. The ``admin_token`` scope hands the app a management key of its own
(``is_admin``, also ``purpose`` "oauth"), never the user's.

Revoking a token disables both keys in the revocation's transaction, and this process's
key cache forgets them at once; another replica refuses them once its cached entry is
refreshed, about ``key_cache_ttl`` (1 s) later."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass

from sqlalchemy import ColumnElement, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from relaygate.accounts.audit import stage
from relaygate.accounts.models import ApiKey, User
from relaygate.accounts.service import OAUTH
from relaygate.core.clock import utcnow
from relaygate.core.errors import PermissionDenied
from relaygate.core.ids import hash_key, key_hint, new_api_key
from relaygate.db.engine import Database
from relaygate.oauth.models import OAuthApp, OAuthToken
from relaygate.oauth.records import TOKEN_INVALID_MESSAGE, OAuthTokenInvalid, TokenOwner

__all__ = ["AdminToken", "Revoked", "TokenKeys", "relay_key", "revoke_tokens"]

OPERATOR_REFUSED = (
    "The operator's account cannot hand a management key to an app: it would be the operator's key."
)


@dataclass(frozen=True, slots=True)
class AdminToken:
    """The app's management key for the user; ``key`` is the secret, present only in the
    answer that created or rotated it (only its digest is kept)."""

    key_id: int
    hint: str
    key: str | None
    created: bool


@dataclass(frozen=True, slots=True)
class Revoked:
    tokens: int
    key_hashes: tuple[str, ...]  # the disabled keys, for the key cache to forget


def relay_key(token: str, user_id: int, app_name: str) -> ApiKey:
    """The key that makes ``token`` work wherever a key does (added by the issuer)."""
    return ApiKey(
        user_id=user_id,
        key_hash=hash_key(token),
        hint=key_hint(token),
        remark=f"OAuth: {app_name}"[:500],
        is_admin=False,
        purpose=OAUTH,
    )


async def revoke_tokens(session: AsyncSession, *where: ColumnElement[bool]) -> Revoked:
    """Revoke the live tokens matching ``where`` and disable their keys, in ``session``'s
    transaction; the caller forgets ``key_hashes`` once it committed."""
    rows = list(
        await session.scalars(
            select(OAuthToken).where(*where, OAuthToken.revoked_at.is_(None)).with_for_update()
        )
    )
    if not rows:
        return Revoked(0, ())
    now = utcnow()
    key_ids: list[int] = []
    for row in rows:
        row.revoked_at = now
        key_ids += [k for k in (row.api_key_id, row.admin_key_id) if k is not None]
    hashes: list[str] = []
    if key_ids:
        keys = list(await session.scalars(select(ApiKey).where(ApiKey.id.in_(key_ids))))
        for key in keys:
            key.is_disabled = True
        hashes = [key.key_hash for key in keys]
    return Revoked(len(rows), tuple(hashes))


class TokenKeys:
    """The management key an app gets under the ``admin_token`` scope (§5.10–5.11)."""

    def __init__(self, db: Database, forget: Callable[[str], None]) -> None:
        self.db = db
        self.forget = forget  # AccountService.cache.invalidate

    def forget_all(self, hashes: Iterable[str]) -> None:
        for digest in hashes:
            self.forget(digest)

    async def admin_token(self, who: TokenOwner, *, rotate: bool) -> AdminToken:
        """The app's management key for the user: made on first use (the secret is in
        that answer only), afterwards its id and hint; ``rotate`` replaces it (the old
        key is disabled at once) and returns the new secret."""
        async with self.db.session() as session, session.begin():
            # a write first: on PostgreSQL the token's row lock, on SQLite the write
            # lock, so two first calls at once make one key
            await session.execute(
                update(OAuthToken)
                .where(OAuthToken.id == who.token_id)
                .values(scope=OAuthToken.scope)
            )
            token = await session.get(OAuthToken, who.token_id)
            if token is None or token.revoked_at is not None:
                raise OAuthTokenInvalid(TOKEN_INVALID_MESSAGE)
            user = await session.get(User, who.user_id)
            if user is None or user.is_operator:
                raise PermissionDenied(OPERATOR_REFUSED)
            old = (
                None
                if token.admin_key_id is None
                else await session.get(ApiKey, token.admin_key_id)
            )
            if old is not None and not rotate:
                return AdminToken(old.id, old.hint, None, created=False)
            app = await session.get(OAuthApp, token.app_id)
            secret = new_api_key()
            row = ApiKey(
                user_id=who.user_id,
                key_hash=hash_key(secret),
                hint=key_hint(secret),
                remark=f"OAuth management: {app.name if app else token.app_id}"[:500],
                is_admin=True,
                purpose=OAUTH,
            )
            session.add(row)
            await session.flush()
            if old is not None:
                old.is_disabled = True
            token.admin_key_id = row.id
            stage(
                session,
                "oauth.admin_token_rotated" if old is not None else "oauth.admin_token_issued",
                actor_id=who.user_id,
                subject_user_id=who.user_id,
                detail={
                    "app_id": token.app_id,
                    "key_id": row.id,
                    "hint": row.hint,
                    "replaced_key_id": old.id if old is not None else None,
                },
            )
        if old is not None:
            self.forget(old.key_hash)
        return AdminToken(row.id, row.hint, secret, created=True)
