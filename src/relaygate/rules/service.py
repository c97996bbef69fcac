"""Override rules: a user's rules kept, listed, copied, exported and imported (docs/rules.md).

Every write validates the whole rule document (``rules.schema.RuleDoc``), checks what the
document cannot know alone (the key ids are the user's own, the name is free, the user's
tier allows this many rules and actions), writes the audit line in the same transaction,
and after the commit tells the relay side (``on_change(user_id)``: the engine's rule cache
drops the user's compiled rules and bumps the version other replicas watch).

Another user's rule id is answered exactly like an id that does not exist (404), so ids
reveal nothing. Batch operations and imports are all or nothing.
"""

from __future__ import annotations

import fnmatch
import re
from collections.abc import Awaitable, Callable, Collection, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Literal

from pydantic import ValidationError
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from relaygate.accounts.audit import stage
from relaygate.core.clock import utcnow
from relaygate.core.errors import Conflict, InvalidRequest, NotFound
from relaygate.db.engine import Database
from relaygate.rules.dry_run import DryRun, Sample, dry_run
from relaygate.rules.errors import invalid_rule
from relaygate.rules.limits import LimitConfig, RuleLimits
from relaygate.rules.models import OverrideRule
from relaygate.rules.repository import HitTotal, RuleRepository
from relaygate.rules.schema import ACTION_TYPES, RuleDoc

__all__ = [
    "ImportMode",
    "ImportResult",
    "RuleQuery",
    "RulePage",
    "RuleService",
    "RuleStats",
    "document_of",
    "name_problem",
    "rule_doc",
    "wire",
]

ImportMode = Literal["skip", "overwrite"]
OnChange = Callable[[int], Awaitable[None]]
TierOf = Callable[[int], Awaitable[str]]
NAME_TAKEN = "rule_name_taken"
LIMIT_REACHED = "rule_limit_reached"
DEFAULT_LIMITS = LimitConfig()
_COPY = re.compile(r"^(.*?) copy(?: \d+)?$")


async def _free_tier(_user_id: int) -> str:
    return "free"


@dataclass(frozen=True, slots=True)
class RuleQuery:
    """A listing's page and filters (``name``: a case-insensitive part of the name;
    ``model``: rules whose model conditions let this model through)."""

    page: int = 1
    page_size: int = 20
    enabled: bool | None = None
    model: str | None = None
    name: str | None = None


@dataclass(frozen=True, slots=True)
class RulePage:
    rules: list[OverrideRule]
    total: int
    hits: Mapping[int, HitTotal]  # the last 30 days, by rule id


@dataclass(frozen=True, slots=True)
class ImportResult:
    created: list[int]
    overwritten: list[int]
    skipped: list[str]  # names that were taken (mode "skip")


@dataclass(frozen=True, slots=True)
class DayHits:
    day: str  # ISO date
    hits: int


@dataclass(frozen=True, slots=True)
class RuleStat:
    rule: OverrideRule
    hits: int
    last_hit_at: datetime | None
    days: list[DayHits]


@dataclass(frozen=True, slots=True)
class RuleStats:
    total: int
    enabled: int
    days: int
    hits: int
    rules: list[RuleStat]


def document_of(doc: RuleDoc) -> dict[str, Any]:
    """What the ``document`` column keeps: the match and the actions, as sent (fields a
    client left out stay out, so an exported rule reads like the one written)."""
    return {
        "match": doc.match.model_dump(mode="json", exclude_unset=True),
        "actions": [action.model_dump(mode="json", exclude_unset=True) for action in doc.actions],
    }


def wire(row: OverrideRule) -> dict[str, Any]:
    """A stored rule as the rule document it was written as."""
    return {
        "name": row.name,
        "description": row.description,
        "enabled": row.enabled,
        "priority": row.priority,
        "match": row.document.get("match", {}),
        "actions": row.document.get("actions", []),
    }


def rule_doc(row: OverrideRule) -> RuleDoc:
    return RuleDoc.model_validate(wire(row))


def validate(data: Mapping[str, Any], prefix: str = "") -> RuleDoc:
    """A rule document, or the 400 naming its first bad field."""
    try:
        return RuleDoc.model_validate(dict(data))
    except ValidationError as exc:
        raise invalid_rule(exc.errors(), ACTION_TYPES, prefix) from None


_PROBE = {"type": "remove", "path": "/x"}


def name_problem(name: str) -> str | None:
    """Why ``name`` cannot name a rule (the rule document's own check), or None."""
    try:
        RuleDoc.model_validate({"name": name, "actions": [_PROBE]})
    except ValidationError as exc:
        for error in exc.errors():
            if tuple(error["loc"]) == ("name",):
                return str(error["msg"]).removeprefix("Value error, ")
    return None


def _lets_through(row: OverrideRule, model: str) -> bool:
    match = row.document.get("match", {})
    globs, pattern = match.get("models"), match.get("model_regex")
    if globs and not any(fnmatch.fnmatchcase(model, glob) for glob in globs):
        return False
    return not pattern or re.search(pattern, model) is not None


def _filtered(rows: list[OverrideRule], query: RuleQuery) -> list[OverrideRule]:
    if query.enabled is not None:
        rows = [row for row in rows if row.enabled == query.enabled]
    if query.name:
        part = query.name.casefold()
        rows = [row for row in rows if part in row.name.casefold()]
    if query.model:
        model = query.model
        rows = [row for row in rows if _lets_through(row, model)]
    return rows


def copy_name(name: str, taken: Collection[str]) -> str:
    """``x copy``, then ``x copy 2``…, cut to the 64 characters a name may have (a name
    may not hold brackets, so not ``x (copy)``)."""
    base = _COPY.sub(r"\1", name)
    for n in range(1, 10_000):
        suffix = " copy" if n == 1 else f" copy {n}"
        candidate = base[: 64 - len(suffix)].rstrip() + suffix
        if candidate not in taken:
            return candidate
    raise Conflict("No free name for the copy; pass one.", param="name", code=NAME_TAKEN)


class RuleService:
    def __init__(
        self,
        db: Database,
        limits: LimitConfig = DEFAULT_LIMITS,
        tier_of: TierOf = _free_tier,
        on_change: OnChange | None = None,
    ) -> None:
        self.db = db
        self.config = limits
        self.tier_of = tier_of
        self._listeners: list[OnChange] = [on_change] if on_change else []

    def on_change(self, listener: OnChange) -> None:
        """Call ``listener(user_id)`` after every committed change of a user's rules."""
        self._listeners.append(listener)

    async def _changed(self, user_id: int) -> None:
        for listener in self._listeners:
            await listener(user_id)

    async def limits(self, user_id: int) -> RuleLimits:
        return self.config.for_tier(await self.tier_of(user_id))

    # ------------------------------------------------------------------ reads

    async def get(self, user_id: int, rule_id: int) -> OverrideRule:
        async with self.db.session() as session:
            return await _own(RuleRepository(session), user_id, rule_id)

    async def listing(self, user_id: int, query: RuleQuery) -> RulePage:
        since = (utcnow() - timedelta(days=29)).date()
        async with self.db.session() as session:
            repo = RuleRepository(session)
            rows = _filtered(await repo.of_user(user_id), query)
            start = (query.page - 1) * query.page_size
            page = rows[start : start + query.page_size]
            hits = await repo.totals(user_id, since) if page else {}
        return RulePage(page, len(rows), hits)

    async def hits_of(self, user_id: int, rule_id: int) -> HitTotal | None:
        """The rule's hits of the last 30 days and its last hit."""
        since = (utcnow() - timedelta(days=29)).date()
        async with self.db.session() as session:
            return (await RuleRepository(session).totals(user_id, since)).get(rule_id)

    async def count(self, user_id: int) -> int:
        async with self.db.session() as session:
            return await RuleRepository(session).count(user_id)

    async def name_available(self, user_id: int, name: str, exclude_id: int | None = None) -> bool:
        async with self.db.session() as session:
            found = await RuleRepository(session).by_name(user_id, name)
        return found is None or found.id == exclude_id

    async def names_of(self, user_id: int, ids: Collection[int]) -> dict[int, str]:
        """The names of the user's rules among ``ids``, for pages that name the rules a
        bill line records (a rule deleted since is absent: shown by its id)."""
        if not ids:
            return {}
        async with self.db.session() as session:
            return await RuleRepository(session).names_of(user_id, ids)

    async def enabled_rules(self, user_id: int) -> list[tuple[int, RuleDoc]]:
        """The user's enabled rules in the order they run (the relay's rule cache loads
        these)."""
        async with self.db.session() as session:
            rows = await RuleRepository(session).enabled_of(user_id)
        return [(row.id, rule_doc(row)) for row in rows]

    async def selected(self, user_id: int, ids: Sequence[int]) -> list[tuple[int, RuleDoc]]:
        """The rules of ``ids`` (enabled or not), in the order they would run; 404 for an
        id that is not the user's."""
        async with self.db.session() as session:
            rows = await _own_all(RuleRepository(session), user_id, ids)
        rows.sort(key=lambda row: (row.priority, row.id))
        return [(row.id, rule_doc(row)) for row in rows]

    async def dry_run(
        self, user_id: int, sample: Sample, rule: RuleDoc | None, ids: Sequence[int] | None
    ) -> DryRun:
        """``rule`` alone (unsaved: id 0), else the rules of ``ids``, each run whatever its
        ``enabled`` flag (a draft is tried before it is switched on), else the user's
        enabled rules (what real calls run): through the relay's engine, no upstream, no
        charge."""
        if rule is not None:
            rules = [(0, rule)]
        elif ids:
            rules = await self.selected(user_id, ids)
        else:
            rules = await self.enabled_rules(user_id)
        return dry_run(rules, sample)

    async def export(self, user_id: int, ids: Sequence[int] | None = None) -> list[dict[str, Any]]:
        """Rule documents (no ids: they are this account's), in the order they run."""
        async with self.db.session() as session:
            repo = RuleRepository(session)
            if ids:
                rows = await _own_all(repo, user_id, ids)
                rows.sort(key=lambda row: (row.priority, row.id))
            else:
                rows = await repo.of_user(user_id)
        return [wire(row) for row in rows]

    async def stats(self, user_id: int, days: int = 30) -> RuleStats:
        """Hits per rule per day over the last ``days`` days (today included, UTC)."""
        since = (utcnow() - timedelta(days=days - 1)).date()
        async with self.db.session() as session:
            repo = RuleRepository(session)
            rows = await repo.of_user(user_id)
            daily = await repo.hits_since(user_id, since)
        by_rule: dict[int, list[DayHits]] = {}
        last: dict[int, datetime] = {}
        for hit in daily:
            by_rule.setdefault(hit.rule_id, []).append(DayHits(hit.day.isoformat(), hit.hits))
            if hit.last_hit_at is not None:
                last[hit.rule_id] = max(hit.last_hit_at, last.get(hit.rule_id, hit.last_hit_at))
        stats = []
        for row in rows:
            days_of = by_rule.get(row.id, [])
            stats.append(RuleStat(row, sum(d.hits for d in days_of), last.get(row.id), days_of))
        return RuleStats(
            total=len(rows),
            enabled=sum(1 for row in rows if row.enabled),
            days=days,
            hits=sum(stat.hits for stat in stats),
            rules=stats,
        )

    # ----------------------------------------------------------------- writes

    async def create(self, user_id: int, doc: RuleDoc, *, actor_id: int | None) -> OverrideRule:
        limits = await self.limits(user_id)
        _check_actions(doc, limits)
        async with self.db.session() as session, session.begin():
            repo = RuleRepository(session)
            await repo.lock_owner(user_id)
            await _check_keys(repo, user_id, [doc])
            if await repo.by_name(user_id, doc.name) is not None:
                raise _taken(doc.name)
            if await repo.count(user_id) >= limits.max_rules:
                raise _too_many(limits)
            row = _new_row(user_id, doc)
            repo.add(row)
            await _flush(session, doc.name)
            _audit(session, "rule.create", actor_id, user_id, row)
        await self._changed(user_id)
        return row

    async def update(
        self, user_id: int, rule_id: int, changes: Mapping[str, Any], *, actor_id: int | None
    ) -> OverrideRule:
        """Change the fields given (``match`` and ``actions`` are replaced whole)."""
        limits = await self.limits(user_id)
        async with self.db.session() as session, session.begin():
            repo = RuleRepository(session)
            row = await _own(repo, user_id, rule_id)
            doc = validate({**wire(row), **changes})
            _check_actions(doc, limits)
            await _check_keys(repo, user_id, [doc])
            if doc.name != row.name and await repo.by_name(user_id, doc.name) is not None:
                raise _taken(doc.name)
            _fill(row, doc)
            await _flush(session, doc.name)
            _audit(session, "rule.update", actor_id, user_id, row, sorted(changes))
        await self._changed(user_id)
        return row

    async def delete(self, user_id: int, ids: Sequence[int], *, actor_id: int | None) -> int:
        async with self.db.session() as session, session.begin():
            repo = RuleRepository(session)
            rows = await _own_all(repo, user_id, ids)
            deleted = await repo.delete_ids(user_id, [row.id for row in rows])
            detail = {"ids": [row.id for row in rows], "names": [row.name for row in rows]}
            stage(session, "rule.delete", actor_id=actor_id, subject_user_id=user_id, detail=detail)
        await self._changed(user_id)
        return deleted

    async def set_enabled(
        self, user_id: int, ids: Sequence[int], enabled: bool, *, actor_id: int | None
    ) -> int:
        async with self.db.session() as session, session.begin():
            rows = await _own_all(RuleRepository(session), user_id, ids)
            now = utcnow()
            for row in rows:
                if row.enabled != enabled:
                    row.enabled, row.updated_at = enabled, now
            action = "rule.enable" if enabled else "rule.disable"
            detail = {"ids": [row.id for row in rows]}
            stage(session, action, actor_id=actor_id, subject_user_id=user_id, detail=detail)
        await self._changed(user_id)
        return len(rows)

    async def copy(
        self, user_id: int, rule_id: int, name: str | None, *, actor_id: int | None
    ) -> OverrideRule:
        """A disabled copy (two live copies would apply twice), named ``x copy`` (then
        ``x copy 2``…) unless a name is given."""
        limits = await self.limits(user_id)
        async with self.db.session() as session, session.begin():
            repo = RuleRepository(session)
            await repo.lock_owner(user_id)
            source = await _own(repo, user_id, rule_id)
            taken = await repo.names(user_id)
            if name is not None and name in taken:
                raise _taken(name)
            fields = {"name": name or copy_name(source.name, taken), "enabled": False}
            doc = validate({**wire(source), **fields})
            _check_actions(doc, limits)
            if len(taken) >= limits.max_rules:
                raise _too_many(limits)
            row = _new_row(user_id, doc)
            repo.add(row)
            await _flush(session, doc.name)
            _audit(session, "rule.copy", actor_id, user_id, row, {"from": source.id})
        await self._changed(user_id)
        return row

    async def import_rules(
        self, user_id: int, docs: Sequence[RuleDoc], mode: ImportMode, *, actor_id: int | None
    ) -> ImportResult:
        """Every rule checked before anything is written; one transaction for them all.
        A name the user has already is skipped or overwritten (``mode``)."""
        limits = await self.limits(user_id)
        _check_import(docs, limits)
        async with self.db.session() as session, session.begin():
            repo = RuleRepository(session)
            await repo.lock_owner(user_id)
            await _check_keys(repo, user_id, docs, prefix="rules")
            taken = await repo.names(user_id)
            fresh = [doc for doc in docs if doc.name not in taken]
            if len(taken) + len(fresh) > limits.max_rules:
                raise _too_many(limits, len(fresh))
            result = await _write_import(repo, user_id, docs, taken, mode)
            await session.flush()
            detail = {
                "mode": mode,
                "created": len(result.created),
                "overwritten": result.overwritten,
                "skipped": result.skipped,
            }
            stage(session, "rule.import", actor_id=actor_id, subject_user_id=user_id, detail=detail)
        await self._changed(user_id)
        return result


async def _write_import(
    repo: RuleRepository,
    user_id: int,
    docs: Sequence[RuleDoc],
    taken: Mapping[str, int],
    mode: ImportMode,
) -> ImportResult:
    created: list[OverrideRule] = []
    overwritten: list[int] = []
    skipped: list[str] = []
    existing = await repo.owned(user_id, [taken[d.name] for d in docs if d.name in taken])
    for doc in docs:
        if doc.name not in taken:
            row = _new_row(user_id, doc)
            repo.add(row)
            created.append(row)
        elif mode == "overwrite":
            _fill(existing[taken[doc.name]], doc)
            overwritten.append(taken[doc.name])
        else:
            skipped.append(doc.name)
    await repo.session.flush()
    return ImportResult([row.id for row in created], overwritten, skipped)


def _check_import(docs: Sequence[RuleDoc], limits: RuleLimits) -> None:
    seen: set[str] = set()
    for index, doc in enumerate(docs):
        _check_actions(doc, limits, f"rules[{index}].")
        if doc.name in seen:
            where = f"rules[{index}].name"
            raise InvalidRequest(f"{where}: '{doc.name}' appears twice in the import", param=where)
        seen.add(doc.name)


def _check_actions(doc: RuleDoc, limits: RuleLimits, prefix: str = "") -> None:
    if len(doc.actions) > limits.max_actions:
        where = prefix + "actions"
        raise InvalidRequest(
            f"{where}: at most {limits.max_actions} actions per rule "
            f"(the '{limits.tier}' tier's limit); this rule has {len(doc.actions)}",
            param=where,
            code=LIMIT_REACHED,
        )


async def _check_keys(
    repo: RuleRepository, user_id: int, docs: Sequence[RuleDoc], prefix: str = ""
) -> None:
    wanted = {key for doc in docs for key in doc.match.key_ids or ()}
    own = await repo.own_key_ids(user_id, wanted)
    for index, doc in enumerate(docs):
        for position, key_id in enumerate(doc.match.key_ids or ()):
            if key_id not in own:
                where = f"match.key_ids[{position}]"
                where = f"{prefix}[{index}].{where}" if prefix else where
                raise InvalidRequest(f"{where}: you have no API key with id {key_id}", param=where)


async def _own(repo: RuleRepository, user_id: int, rule_id: int) -> OverrideRule:
    found = (await repo.owned(user_id, [rule_id])).get(rule_id)
    if found is None:
        raise NotFound(f"No rule with id {rule_id}.", param="id")
    return found


async def _own_all(repo: RuleRepository, user_id: int, ids: Sequence[int]) -> list[OverrideRule]:
    found = await repo.owned(user_id, set(ids))
    missing = [rule_id for rule_id in ids if rule_id not in found]
    if missing:
        raise NotFound(f"No rule with id {missing[0]}.", param="ids")
    return list(found.values())


def _new_row(user_id: int, doc: RuleDoc) -> OverrideRule:
    now = utcnow()
    row = OverrideRule(user_id=user_id, created_at=now, updated_at=now)
    _fill(row, doc)
    return row


def _fill(row: OverrideRule, doc: RuleDoc) -> None:
    row.name = doc.name
    row.description = doc.description
    row.enabled = doc.enabled
    row.priority = doc.priority
    row.document = document_of(doc)
    row.updated_at = utcnow()


async def _flush(session: AsyncSession, name: str) -> None:
    """Write now, so a name taken by a concurrent write is a 409, not a failed commit."""
    try:
        await session.flush()
    except IntegrityError:
        raise _taken(name) from None


def _taken(name: str) -> Conflict:
    return Conflict(f"name: you already have a rule named '{name}'", param="name", code=NAME_TAKEN)


def _too_many(limits: RuleLimits, adding: int = 1) -> Conflict:
    return Conflict(
        f"You may keep at most {limits.max_rules} rules (the '{limits.tier}' tier's limit); "
        f"delete some first" + (f" (this adds {adding})" if adding > 1 else ""),
        code=LIMIT_REACHED,
    )


def _audit(
    session: AsyncSession,
    action: str,
    actor_id: int | None,
    user_id: int,
    row: OverrideRule,
    extra: Any = None,
) -> None:
    detail: dict[str, Any] = {"id": row.id, "name": row.name}
    if extra is not None:
        detail["changed" if isinstance(extra, list) else "detail"] = extra
    stage(session, action, actor_id=actor_id, subject_user_id=user_id, detail=detail)
