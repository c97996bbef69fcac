"""Queries over usage records. Never commits.

Listings are newest first by ``(created_at, id)`` and continue below a position (keyset
pagination), so each page is one range read of an index made for it (migration 0013):
``(created_at, id)``, ``(user_id, created_at, id)``, or, for failed calls, the partial
``(created_at, id) WHERE status >= 400``. A filter on a key alone is answered through the
key's user (the key's own column has no index: one less write per relayed call).
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any, TypeVar

from sqlalchemy import ColumnElement, Select, literal, literal_column, select, tuple_
from sqlalchemy.ext.asyncio import AsyncSession

from relaygate.accounts.models import ApiKey
from relaygate.billing.models import UsageRecord
from relaygate.billing.schemas import UsageQuery
from relaygate.db.base import UTCDateTime

__all__ = ["BillLine", "UsageRepository", "listing"]

S = TypeVar("S", bound=Select[*tuple[Any, ...]])
_FAILED = 400  # the partial index's bound: ``status >= 400``
_U = UsageRecord


@dataclass(frozen=True, slots=True)
class BillLine:
    """A usage record and the remark of its key (None: no key, or the key is gone)."""

    record: UsageRecord
    key_remark: str | None


def _status_terms(query: UsageQuery) -> list[ColumnElement[bool]]:
    terms: list[ColumnElement[bool]] = []
    low = None
    if query.status is not None:
        terms.append(_U.status == query.status)
        low = query.status
    if query.status_class is not None:
        low = query.status_class * 100
        terms += [_U.status >= low, _U.status < low + 100]
    if low is not None and low >= _FAILED:
        # the partial index's own predicate, as literal text: a planner uses a partial
        # index only when the query's WHERE visibly implies the index's (SQLite matches
        # terms, PostgreSQL cannot prove it from a bound parameter)
        terms.append(_U.status >= literal_column(str(_FAILED)))
    return terms


def _terms(query: UsageQuery) -> list[ColumnElement[bool]]:
    terms = _status_terms(query)
    if query.model is not None:
        terms.append(_U.model == query.model)
    if query.since is not None:
        terms.append(_U.created_at >= query.since)
    if query.until is not None:
        terms.append(_U.created_at < query.until)
    if query.request_id is not None:
        terms.append(_U.request_id == query.request_id)
    if query.user_id is not None:
        terms.append(_U.user_id == query.user_id)
    if query.key_id is not None:
        terms.append(_U.key_id == query.key_id)
    if query.route_group is not None:
        terms.append(_U.route_group == query.route_group)
    if query.after is not None:
        after = query.after
        position = tuple_(literal(after.created_at, UTCDateTime), literal(after.id))
        terms.append(tuple_(_U.created_at, _U.id) < position)
    if query.before is not None:
        before = query.before
        position = tuple_(literal(before.created_at, UTCDateTime), literal(before.id))
        terms.append(tuple_(_U.created_at, _U.id) > position)
    return terms


def _listing(statement: S, query: UsageQuery) -> S:
    if query.before is not None:  # the same index, read upwards from the position
        order = (_U.created_at.asc(), _U.id.asc())
    else:
        order = (_U.created_at.desc(), _U.id.desc())
    return statement.where(*_terms(query)).order_by(*order).limit(query.limit).offset(query.offset)


def listing(query: UsageQuery) -> Select[UsageRecord]:
    """The page's statement (public for the index tests, which EXPLAIN it)."""
    return _listing(select(_U), query)


class UsageRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def search(self, query: UsageQuery) -> list[UsageRecord]:
        query = await self._through_owner(query)
        return list(await self.session.scalars(listing(query)))

    async def bill_lines(self, query: UsageQuery) -> list[BillLine]:
        """Records with their key's remark, read by a join (never copied into the row)."""
        query = await self._through_owner(query)
        statement = select(_U, ApiKey.remark).outerjoin(ApiKey, ApiKey.id == _U.key_id)
        rows = await self.session.execute(_listing(statement, query))
        return [BillLine(record, remark) for record, remark in rows.tuples()]

    async def _through_owner(self, query: UsageQuery) -> UsageQuery:
        """A key's records are its user's: filter on both, so the user index serves it."""
        if query.key_id is None or query.user_id is not None:
            return query
        owner = await self.session.scalar(select(ApiKey.user_id).where(ApiKey.id == query.key_id))
        if owner is None:  # the key is gone: its rows are found without the index
            return query
        return replace(query, user_id=owner)
