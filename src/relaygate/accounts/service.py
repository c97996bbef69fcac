"""Use cases of the accounts capability: bootstrap the operator, manage users and keys,
authenticate a presented key.

The operator (superuser) is a user like any other whose ``is_operator`` flag is set; its
management key (``is_admin``) is the key printed on first start.
"""

from __future__ import annotations

import calendar
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy.exc import IntegrityError

from relaygate.accounts.audit import changes_detail, stage
from relaygate.accounts.keycache import KeyCache, Lookup
from relaygate.accounts.models import ApiKey, User
from relaygate.accounts.principal import Principal
from relaygate.accounts.repository import AccountRepository
from relaygate.core.bounds import INT32_MAX
from relaygate.core.errors import AuthenticationFailed, InvalidRequest, NotFound
from relaygate.core.ids import hash_key, key_hint, new_api_key
from relaygate.db.engine import Database

__all__ = ["OAUTH", "PLAYGROUND", "AccountService", "Bootstrap", "NewKey"]

MISSING_KEY = (
    "You didn't provide an API key. Send it as 'Authorization: Bearer sk-...' or 'x-api-key'."
)
UNKNOWN_KEY = "Incorrect API key provided."
PLAYGROUND = "playground"  # ApiKey.purpose of the console playground's keys
OAUTH = "oauth"  # ApiKey.purpose of the keys an OAuth app holds (oauth/grants.py)


@dataclass(frozen=True, slots=True)
class NewKey:
    record: ApiKey
    key: str


@dataclass(frozen=True, slots=True)
class Bootstrap:
    operator: User
    admin_key: str | None  # set only when a key was created now


def _epoch(moment: datetime | None) -> float | None:
    return None if moment is None else calendar.timegm(moment.utctimetuple())


def _principal(key: ApiKey, user: User) -> Lookup:
    if key.is_disabled:
        return "This API key has been disabled."
    if user.is_disabled:
        return "The account of this API key is disabled."
    return Principal(
        user_id=user.id,
        key_id=key.id,
        is_admin=key.is_admin,
        is_operator=user.is_operator,
        permissions=None if key.permissions is None else frozenset(key.permissions),
        expires_at=_epoch(key.expired_at),
        max_fee=key.max_fee,
        used_fee=key.used_fee,
        rpm=key.rpm_limit,
        tpm=key.tpm_limit,
        concurrency=key.concurrency_limit,
        group=user.group,
    )


class AccountService:
    """Users and keys, and the check every call begins with. Key changes go through
    here rather than straight to the repository so this process's key cache forgets
    them at once (other replicas within the cache's ttl): a disabled or deleted key
    must stop working without a restart."""

    def __init__(self, db: Database, key_cache_ttl: float) -> None:
        self.db = db
        self.cache = KeyCache(self._lookup, key_cache_ttl)

    async def _lookup(self, digest: str) -> Lookup:
        async with self.db.session() as session:
            found = await AccountRepository(session).key_with_user(digest)
        return UNKNOWN_KEY if found is None else _principal(*found)

    async def authenticate(self, presented: str | None, now: float) -> Principal:
        """Return the caller behind ``presented`` or raise :class:`AuthenticationFailed`."""
        if not presented:
            raise AuthenticationFailed(MISSING_KEY, code="missing_api_key")
        found = await self.cache.get(hash_key(presented))
        if isinstance(found, str):
            raise AuthenticationFailed(found)
        if found.expires_at is not None and now >= found.expires_at:
            raise AuthenticationFailed("This API key has expired.", code="expired_api_key")
        return found

    async def bootstrap(self, email: str, admin_key: str | None) -> Bootstrap:
        """Create the operator and its management key on an empty database.

        A given ``admin_key`` (``RELAYGATE_BOOTSTRAP_ADMIN_KEY``) is registered if it is not
        known yet, so automation can rely on it even against an existing database.
        """
        async with self.db.session() as session, session.begin():
            repo = AccountRepository(session)
            operator = await repo.operator()
            created_key: str | None = None
            if operator is None:
                operator = User(email=email, name="Operator", is_operator=True)
                repo.add(operator)
                await session.flush()
                created_key = admin_key or new_api_key()
            elif admin_key and await repo.key_by_hash(hash_key(admin_key)) is None:
                created_key = admin_key
            if created_key is not None:
                repo.add(self._key_row(operator.id, created_key, "operator key", is_admin=True))
        return Bootstrap(operator=operator, admin_key=created_key)

    @staticmethod
    def _key_row(user_id: int, key: str, remark: str, **fields: Any) -> ApiKey:
        return ApiKey(
            user_id=user_id, key_hash=hash_key(key), hint=key_hint(key), remark=remark, **fields
        )

    async def create_user(
        self, email: str, name: str = "", group: str = "", *, actor_id: int | None = None
    ) -> User:
        async with self.db.session() as session:
            try:
                async with session.begin():
                    user = User(email=email.lower(), name=name, group=group)
                    session.add(user)
                    await session.flush()
                    stage(
                        session,
                        "user.create",
                        actor_id=actor_id,
                        subject_user_id=user.id,
                        detail={"email": user.email, "group": group},
                    )
            except IntegrityError as exc:
                raise InvalidRequest(
                    f"A user with email {email!r} exists already.", param="email"
                ) from exc
        return user

    async def users(self, offset: int = 0, limit: int = 100) -> list[User]:
        async with self.db.session() as session:
            return await AccountRepository(session).users(offset, limit)

    async def user(self, user_id: int) -> User:
        async with self.db.session() as session:
            user = await AccountRepository(session).user(user_id)
        if user is None:
            raise NotFound(f"No user with id {user_id}.")
        return user

    async def issue_key(
        self,
        user_id: int,
        *,
        remark: str = "",
        permissions: list[str] | None = None,
        expired_at: datetime | None = None,
        is_admin: bool = False,
        max_fee: int = 0,
        rpm_limit: int | None = None,
        tpm_limit: int | None = None,
        concurrency_limit: int | None = None,
        actor_id: int | None = None,
    ) -> NewKey:
        key = new_api_key()
        async with self.db.session() as session, session.begin():
            repo = AccountRepository(session)
            if await repo.user(user_id) is None:
                raise NotFound(f"No user with id {user_id}.")
            row = self._key_row(
                user_id,
                key,
                remark,
                permissions=permissions,
                expired_at=expired_at,
                is_admin=is_admin,
                max_fee=max_fee,
                rpm_limit=rpm_limit,
                tpm_limit=tpm_limit,
                concurrency_limit=concurrency_limit,
            )
            repo.add(row)
            await session.flush()
            detail = {"key_id": row.id, "hint": row.hint, "remark": remark, "is_admin": is_admin}
            stage(session, "key.create", actor_id=actor_id, subject_user_id=user_id, detail=detail)
        return NewKey(record=row, key=key)

    async def rotate_playground_key(
        self,
        user_id: int,
        *,
        remark: str,
        permissions: list[str] | None,
        expired_at: datetime,
        actor_id: int | None = None,
    ) -> NewKey:
        """The console playground's key with a fresh secret. Each user has one playground
        key row (``purpose`` "playground"), made at the first visit; every later visit
        gives that same row a new secret and expiry, so the calls made with it stay on
        one key named in the bills, and the old secret stops working at once (the cache
        forgets its digest). The audit trail says ``key.rotate``. A second row (two first
        visits at once) is deleted."""
        key = new_api_key()
        async with self.db.session() as session, session.begin():
            repo = AccountRepository(session)
            if await repo.user(user_id) is None:
                raise NotFound(f"No user with id {user_id}.")
            found = [row for row in await repo.keys_of(user_id) if row.purpose == PLAYGROUND]
            old_hashes = [row.key_hash for row in found]
            for extra in found[1:]:
                await session.delete(extra)
                detail = {"key_id": extra.id, "hint": extra.hint}
                stage(
                    session, "key.delete", actor_id=actor_id, subject_user_id=user_id, detail=detail
                )
            kept = found[0] if found else None
            previous = kept.hint if kept is not None else None
            row = kept or self._key_row(user_id, key, remark, purpose=PLAYGROUND)
            row.key_hash, row.hint = hash_key(key), key_hint(key)
            row.remark, row.permissions, row.expired_at = remark, permissions, expired_at
            if kept is None:
                repo.add(row)
            await session.flush()
            detail = {"key_id": row.id, "hint": row.hint, "remark": remark, "is_admin": False}
            if previous is not None:
                detail["previous_hint"] = previous
            action = "key.create" if kept is None else "key.rotate"
            stage(session, action, actor_id=actor_id, subject_user_id=user_id, detail=detail)
        for digest in old_hashes:
            self.cache.invalidate(digest)
        return NewKey(record=row, key=key)

    async def keys_of(self, user_id: int) -> list[ApiKey]:
        await self.user(user_id)
        async with self.db.session() as session:
            return await AccountRepository(session).keys_of(user_id)

    async def personal_keys(self, user_id: int) -> list[ApiKey]:
        """The keys to list to the user and to manage by hand: those a person made, not
        the ones made for a purpose (the playground's, an OAuth grant's), which their
        maker rotates and revokes. The bills still name every key (:meth:`keys_of`)."""
        await self.user(user_id)
        async with self.db.session() as session:
            return await AccountRepository(session).personal_keys_of(user_id)

    async def update_user(
        self, user_id: int, changes: dict[str, Any], *, actor_id: int | None = None
    ) -> User:
        """Change a user's fields; the audit line names the change (``user.group``,
        ``user.disable``, ``user.enable`` or ``user.edit``)."""
        async with self.db.session() as session, session.begin():
            user = await AccountRepository(session).user(user_id)
            if user is None:
                raise NotFound(f"No user with id {user_id}.")
            for name, value in changes.items():
                setattr(user, name, value)
            stage(
                session,
                _user_action(changes),
                actor_id=actor_id,
                subject_user_id=user_id,
                detail=changes_detail(changes),
            )
        self.cache.invalidate()  # the user's keys carry its group and state
        return user

    async def key_count(self, user_id: int) -> int:
        async with self.db.session() as session:
            return await AccountRepository(session).key_count(user_id)

    async def own_key(self, user_id: int, presented: str, *, every: bool = False) -> ApiKey:
        """The key ``presented`` if ``user_id`` owns it; another user's key is "not found",
        and so is a key an OAuth app holds unless ``every`` (its app's grant owns it: a
        revoked token's key must not be re-enabled through the key routes)."""
        async with self.db.session() as session:
            row = await AccountRepository(session).key_by_hash(hash_key(presented))
        if row is None or row.user_id != user_id or (row.purpose == OAUTH and not every):
            raise NotFound("No such API key.", param="key")
        return row

    async def user_key(self, user_id: int, key_id: int) -> ApiKey:
        """Key ``key_id`` if ``user_id`` owns it; another user's key (or an id past the
        column's range) is "not found", so an id reveals nothing about other accounts."""
        if not 0 < key_id <= INT32_MAX:
            raise NotFound("No such API key.")
        async with self.db.session() as session:
            row = await AccountRepository(session).key(key_id)
        if row is None or row.user_id != user_id:
            raise NotFound("No such API key.")
        return row

    async def set_group(self, user_id: int, group: str, *, actor_id: int | None = None) -> User:
        """Put a user in a pricing group ("" for none); their next call is priced by it."""
        return await self.update_user(user_id, {"group": group}, actor_id=actor_id)

    async def set_disabled(
        self, user_id: int, disabled: bool, *, actor_id: int | None = None
    ) -> User:
        """Disable (or enable) a user: every key of theirs stops (or starts) working."""
        return await self.update_user(user_id, {"is_disabled": disabled}, actor_id=actor_id)

    async def delete_key(self, key_id: int, *, actor_id: int | None = None) -> None:
        async with self.db.session() as session, session.begin():
            row = await AccountRepository(session).key(key_id)
            if row is None:
                raise NotFound(f"No API key with id {key_id}.")
            await session.delete(row)
            detail = {"key_id": key_id, "hint": row.hint}
            stage(
                session, "key.delete", actor_id=actor_id, subject_user_id=row.user_id, detail=detail
            )
        self.cache.invalidate(row.key_hash)

    async def update_key(
        self, key_id: int, changes: dict[str, Any], *, actor_id: int | None = None
    ) -> ApiKey:
        async with self.db.session() as session, session.begin():
            row = await AccountRepository(session).key(key_id)
            if row is None:
                raise NotFound(f"No API key with id {key_id}.")
            for name, value in changes.items():
                setattr(row, name, value)
            stage(
                session,
                _key_action(changes),
                actor_id=actor_id,
                subject_user_id=row.user_id,
                detail={"key_id": key_id, **changes_detail(changes)},
            )
        self.cache.invalidate(row.key_hash)
        return row


def _user_action(changes: dict[str, Any]) -> str:
    if set(changes) == {"group"}:
        return "user.group"
    if set(changes) == {"is_disabled"}:
        return "user.disable" if changes["is_disabled"] else "user.enable"
    return "user.edit"


def _key_action(changes: dict[str, Any]) -> str:
    if set(changes) == {"is_disabled"}:
        return "key.disable" if changes["is_disabled"] else "key.enable"
    return "key.edit"
