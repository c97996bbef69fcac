"""The override rules' 14 routes (platform-api.md §7; docs/rules.md "API").

``POST /api/v1/user/override-rules/<verb>``, JSON bodies, the platform envelope,
authenticated like every user route: the account's management key, or its console session
(with ``X-CSRF-Token``). A refused rule is a 400 whose message and ``param`` name the bad
field as the client wrote it (``actions[2].path``, ``rules[0].match.model_regex``);
another user's rule id is a 404, as an id that never existed; a name the user already has
is a 409 ``rule_name_taken``, and a rule past the tier's count a 409 ``rule_limit_reached``.
"""

from __future__ import annotations

from collections.abc import Callable, Coroutine
from datetime import datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Request, Response
from fastapi.exceptions import RequestValidationError
from fastapi.routing import APIRoute
from pydantic import BaseModel, ConfigDict, Field

from relaygate.accounts.user_api import MANAGER_ERRORS, ManagerDep
from relaygate.core.bounds import RowId
from relaygate.core.clock import utcnow
from relaygate.core.envelope import envelope, error_responses, refused_when
from relaygate.rules.dry_run import DryRun, Sample
from relaygate.rules.errors import invalid_rule
from relaygate.rules.limits import RuleLimits
from relaygate.rules.models import OverrideRule
from relaygate.rules.repository import HitTotal
from relaygate.rules.schema import (
    ACTION_TYPES,
    DEFAULT_ROUTE_GROUP,
    MAX_DOCUMENT_BYTES,
    Action,
    Endpoint,
    RuleDoc,
    RuleMatch,
)
from relaygate.rules.service import ImportResult, RuleQuery, RuleStats, name_problem, wire
from relaygate.services import RulesDep

__all__ = ["EXPORT_VERSION", "dry_run_out", "router", "rule_out"]

EXPORT_VERSION = 1
MAX_BATCH = 500  # ids in one batch call
MAX_IMPORT = 1000  # rules in one import


class _RuleRoute(APIRoute):
    """Body errors named as the client wrote the field (``actions[2].path``), where the
    app's handler would say ``actions.2.set.path`` (pydantic's location, union tag and all)."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()

        async def run(request: Request) -> Response:
            try:
                return await handler(request)
            except RequestValidationError as exc:
                raise invalid_rule(exc.errors(), ACTION_TYPES) from None

        return run


_Ids = Annotated[list[RowId], Field(min_length=1, max_length=MAX_BATCH)]


class _Body(BaseModel):
    model_config = ConfigDict(extra="forbid")


class IdIn(_Body):
    id: RowId


class IdsIn(_Body):
    ids: _Ids


class UpdateIn(_Body):
    """The rule's id and the fields to change; ``match`` and ``actions`` are replaced whole."""

    id: RowId
    name: str | None = None
    description: str | None = None
    enabled: bool | None = None
    priority: int | None = None
    match: RuleMatch | None = None
    actions: list[Action] | None = None


class ListIn(_Body):
    page: Annotated[int, Field(ge=1, le=100_000)] = 1
    page_size: Annotated[int, Field(ge=1, le=100)] = 20
    enabled: bool | None = None
    model: str | None = Field(
        default=None, max_length=200, description="Rules whose model conditions let it through"
    )
    name: str | None = Field(default=None, max_length=64, description="A part of the name")


class ToggleIn(_Body):
    ids: _Ids
    enabled: bool


class CopyIn(_Body):
    id: RowId
    name: Annotated[str, Field(description="Default: '<name> copy', made unique")] | None = None


class SampleIn(_Body):
    """A request as the relay would see it."""

    endpoint: Endpoint = "chat"
    dialect: Literal["openai", "responses", "anthropic"] | None = Field(
        default=None, description="The caller's wire format; default: the endpoint's"
    )
    route_group: Annotated[str, Field(max_length=64)] = DEFAULT_ROUTE_GROUP
    key_id: Annotated[int, Field(ge=0, le=2**31 - 1)] = 0
    model: Annotated[str, Field(max_length=200, description="Default: body.model")] | None = None
    body: dict[str, Any]


class TestIn(_Body):
    """``rule`` (an unsaved rule), else ``ids`` (saved rules), else every enabled rule of
    yours. A rule given or selected runs whatever its ``enabled`` flag (the answer's
    ``disabled`` lists those that are off, which real calls skip)."""

    rule: RuleDoc | None = None
    ids: Annotated[list[RowId], Field(max_length=MAX_BATCH)] | None = None
    sample: SampleIn


class StatsIn(_Body):
    days: Annotated[int, Field(ge=1, le=90)] = 30


class CheckNameIn(_Body):
    name: Annotated[str, Field(max_length=200)]
    exclude_id: Annotated[RowId | None, Field(description="The rule being renamed")] = None


class ExportIn(_Body):
    ids: Annotated[list[RowId], Field(max_length=MAX_BATCH)] | None = None


class ImportIn(_Body):
    """An export's document as it is (``version`` and ``exported_at`` are ignored), with
    ``mode``: what to do with a rule whose name you already have."""

    rules: Annotated[list[RuleDoc], Field(min_length=1, max_length=MAX_IMPORT)]
    mode: Literal["skip", "overwrite"] = "skip"
    version: Literal[1] | None = None
    exported_at: str | None = None


def _iso(moment: datetime | None) -> str | None:
    return None if moment is None else moment.isoformat().replace("+00:00", "Z")


def rule_out(row: OverrideRule, hits: HitTotal | None = None) -> dict[str, Any]:
    return {
        "id": row.id,
        **wire(row),
        "created_at": _iso(row.created_at),
        "updated_at": _iso(row.updated_at),
        "hits_30d": hits.hits if hits else 0,
        "last_hit_at": _iso(hits.last_hit_at) if hits else None,
    }


def limits_out(limits: RuleLimits) -> dict[str, Any]:
    return {
        "tier": limits.tier,
        "max_rules": limits.max_rules,
        "max_actions_per_rule": limits.max_actions,
    }


def dry_run_out(done: DryRun) -> dict[str, Any]:
    return {
        "matched": bool(done.fired),
        "blocked": done.blocked is not None,
        "block_message": done.blocked,
        "fired": list(done.fired),
        "rewritten_request": {
            "model": done.model,
            "body": done.body,
            "set_headers": dict(done.set_headers),
            "remove_headers": sorted(done.remove_headers),
        },
        "disabled": sorted(done.disabled),
        "rules": [
            {
                "id": v.id,
                "name": v.name,
                "enabled": v.id not in done.disabled,
                "matched": v.matched,
                "reason": v.reason,
            }
            for v in done.verdicts
        ],
    }


def stats_out(stats: RuleStats) -> dict[str, Any]:
    return {
        "total": stats.total,
        "enabled": stats.enabled,
        "days": stats.days,
        "hits": stats.hits,
        "hits_by_rule": [
            {
                "id": s.rule.id,
                "name": s.rule.name,
                "enabled": s.rule.enabled,
                "hits": s.hits,
                "last_hit_at": _iso(s.last_hit_at),
                "daily": [{"day": d.day, "hits": d.hits} for d in s.days],
            }
            for s in stats.rules
        ],
    }


def export_out(rules: list[dict[str, Any]]) -> dict[str, Any]:
    return {"version": EXPORT_VERSION, "exported_at": _iso(utcnow()), "rules": rules}


def import_out(done: ImportResult) -> dict[str, Any]:
    return {
        "imported": len(done.created) + len(done.overwritten),
        "created": done.created,
        "overwritten": done.overwritten,
        "skipped": done.skipped,
    }


router = APIRouter(
    prefix="/api/v1/user/override-rules",
    tags=["override rules"],
    responses=MANAGER_ERRORS,
    route_class=_RuleRoute,
)
_BAD_RULE = refused_when(
    "a rule the schema's checks refuse (a JSON pointer, a header name, a regular "
    "expression, a name's characters), or an API key id that is not yours"
)
_TAKEN: dict[int | str, dict[str, Any]] = {
    409: {
        **error_responses(409)[409],
        "description": "A name you already have, or your tier's rule count reached",
    }
}
_MISSING = error_responses(404)


@router.post(
    "/create",
    summary="Create a rule",
    responses={**_BAD_RULE, **_TAKEN},
)
async def create(body: RuleDoc, principal: ManagerDep, rules: RulesDep) -> dict[str, Any]:
    row = await rules.create(principal.user_id, body, actor_id=principal.user_id)
    return envelope(rule_out(row), "Rule created")


@router.post(
    "/update",
    summary="Change a rule's fields (match and actions replaced whole)",
    responses={**_BAD_RULE, **_TAKEN, **_MISSING},
)
async def update(body: UpdateIn, principal: ManagerDep, rules: RulesDep) -> dict[str, Any]:
    changes = body.model_dump(mode="json", exclude_unset=True, exclude={"id"})
    row = await rules.update(principal.user_id, body.id, changes, actor_id=principal.user_id)
    return envelope(rule_out(row), "Rule updated")


@router.post("/delete", summary="Delete a rule", responses=_MISSING)
async def delete(body: IdIn, principal: ManagerDep, rules: RulesDep) -> dict[str, Any]:
    deleted = await rules.delete(principal.user_id, [body.id], actor_id=principal.user_id)
    return envelope({"deleted": deleted}, "Rule deleted")


@router.post("/get", summary="A rule, with its hits of the last 30 days", responses=_MISSING)
async def get(body: IdIn, principal: ManagerDep, rules: RulesDep) -> dict[str, Any]:
    row = await rules.get(principal.user_id, body.id)
    return envelope(rule_out(row, await rules.hits_of(principal.user_id, row.id)))


@router.post("/list", summary="Your rules in the order they run, a page at a time")
async def list_rules(body: ListIn, principal: ManagerDep, rules: RulesDep) -> dict[str, Any]:
    query = RuleQuery(body.page, body.page_size, body.enabled, body.model, body.name)
    page = await rules.listing(principal.user_id, query)
    data = {
        "total": page.total,
        "page": body.page,
        "page_size": body.page_size,
        "items": [rule_out(row, page.hits.get(row.id)) for row in page.rules],
    }
    return envelope(data)


@router.post("/batch-toggle", summary="Enable or disable several rules at once", responses=_MISSING)
async def batch_toggle(body: ToggleIn, principal: ManagerDep, rules: RulesDep) -> dict[str, Any]:
    changed = await rules.set_enabled(
        principal.user_id, body.ids, body.enabled, actor_id=principal.user_id
    )
    return envelope({"updated": changed}, "Rules enabled" if body.enabled else "Rules disabled")


@router.post(
    "/copy",
    summary="Copy a rule (the copy starts disabled)",
    responses={**_BAD_RULE, **_TAKEN, **_MISSING},
)
async def copy(body: CopyIn, principal: ManagerDep, rules: RulesDep) -> dict[str, Any]:
    row = await rules.copy(principal.user_id, body.id, body.name, actor_id=principal.user_id)
    return envelope(rule_out(row), "Rule copied")


@router.post(
    "/test",
    summary="Dry run: a sample request through rules (no upstream call, no charge)",
    responses={**_BAD_RULE, **_MISSING},
)
async def test(body: TestIn, principal: ManagerDep, rules: RulesDep) -> dict[str, Any]:
    s = body.sample
    sample = Sample(s.body, s.endpoint, s.dialect, s.route_group, s.key_id, s.model)
    done = await rules.dry_run(principal.user_id, sample, body.rule, body.ids)
    return envelope(dry_run_out(done))


@router.post("/stats", summary="Hits per rule per day, and each rule's last hit")
async def stats(body: StatsIn, principal: ManagerDep, rules: RulesDep) -> dict[str, Any]:
    return envelope(stats_out(await rules.stats(principal.user_id, body.days)))


@router.post("/limits", summary="The limits in force for you, and for every tier")
async def limits(principal: ManagerDep, rules: RulesDep) -> dict[str, Any]:
    mine = await rules.limits(principal.user_id)
    data = {
        **limits_out(mine),
        "used_rules": await rules.count(principal.user_id),
        "max_document_bytes": MAX_DOCUMENT_BYTES,
        "tiers": [limits_out(tier) for tier in rules.config.every_tier()],
    }
    return envelope(data)


@router.post("/check-name", summary="Whether a name is valid and free")
async def check_name(body: CheckNameIn, principal: ManagerDep, rules: RulesDep) -> dict[str, Any]:
    problem = name_problem(body.name)
    free = problem is None and await rules.name_available(
        principal.user_id, body.name, body.exclude_id
    )
    reason = problem or (None if free else "taken")
    data = {"name": body.name, "valid": problem is None, "available": free, "reason": reason}
    return envelope(data)


@router.post("/batch-delete", summary="Delete several rules at once", responses=_MISSING)
async def batch_delete(body: IdsIn, principal: ManagerDep, rules: RulesDep) -> dict[str, Any]:
    deleted = await rules.delete(principal.user_id, body.ids, actor_id=principal.user_id)
    return envelope({"deleted": deleted}, "Rules deleted")


@router.post(
    "/export",
    summary="Rules as a JSON document that import takes back (all, or those of ids)",
    responses=_MISSING,
)
async def export(body: ExportIn, principal: ManagerDep, rules: RulesDep) -> dict[str, Any]:
    return envelope(export_out(await rules.export(principal.user_id, body.ids)))


@router.post(
    "/import",
    summary="Import rules: all are checked first, then all are written, or none",
    responses={**_BAD_RULE, **_TAKEN},
)
async def import_rules(body: ImportIn, principal: ManagerDep, rules: RulesDep) -> dict[str, Any]:
    done = await rules.import_rules(
        principal.user_id, body.rules, body.mode, actor_id=principal.user_id
    )
    return envelope(import_out(done), "Rules imported")
