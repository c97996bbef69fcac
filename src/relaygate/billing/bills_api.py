"""A user's bill: their usage records, filtered, as JSON or CSV.

The columns are the platform's (platform-api.md §2.7): ``promptTokens``,
``completionTokens``, ``RURT`` (request upload time, ms), ``TPS`` (the call's duration in
seconds, despite the name), ``Free`` (whether free balance paid for it) and the amount;
then Relaygate's own: ``attempts`` (upstream calls made, failovers included) and the
media units the call was billed for (``images``, ``characters``, ``audioMs``;
docs/media.md); how it was priced: ``routeGroup`` (``cc-omg``, ``codex-omg``, or ``""``
for ``/v1``), each multiplier applied as an exact decimal string (``modelMultiplier``,
``routeMultiplier``, ``tierMultiplier``, ``groupMultiplier``) and ``packagePaid`` (a
resource package paid some of it); ``keyRemark``, the key's remark, read from the
key at listing time (null, an empty CSV cell, when the key was deleted); and ``rules``,
the ids of the user's override rules that rewrote the call ("12,15"; null, an empty CSV
cell, when none did: docs/rules.md).

The CSV writes booleans as ``true``/``false``, as the JSON does.
"""

from __future__ import annotations

import csv
import io
from datetime import UTC, datetime
from decimal import Decimal
from typing import Annotated, Any

from fastapi import APIRouter, Query
from fastapi.responses import Response

from relaygate.accounts.user_api import MANAGER_ERRORS, ManagerDep
from relaygate.billing.repository import BillLine
from relaygate.billing.schemas import UsageQuery
from relaygate.core.bounds import Offset
from relaygate.core.envelope import envelope, error_responses
from relaygate.core.money import format_money
from relaygate.services import AccountsDep, UsageDep

__all__ = ["router"]

COLUMNS = (
    "time", "requestId", "keyId", "model", "endpoint", "status", "stream", "promptTokens",
    "completionTokens", "cachedTokens", "RURT", "TPS", "Free", "amount", "packageAmount",
    "attempts", "images", "characters", "audioMs", "routeGroup", "modelMultiplier",
    "routeMultiplier", "tierMultiplier", "groupMultiplier", "packagePaid", "keyRemark", "rules",
)  # fmt: skip

router = APIRouter(tags=["billing: bills"])


def _row(line: BillLine) -> dict[str, Any]:
    record = line.record
    return {
        "time": record.created_at.isoformat().replace("+00:00", "Z"),
        "requestId": record.request_id,
        "keyId": record.key_id,
        "model": record.model,
        "endpoint": record.endpoint,
        "status": record.status,
        "stream": record.stream,
        "promptTokens": record.prompt_tokens,
        "completionTokens": record.completion_tokens,
        "cachedTokens": record.cached_tokens,
        "RURT": record.rurt_ms,
        "TPS": str(Decimal(record.duration_ms) / 1000),
        "Free": record.free_amount > 0,
        "amount": format_money(record.amount),
        "packageAmount": format_money(record.package_amount),
        "attempts": record.attempts,
        "images": record.images,
        "characters": record.characters,
        "audioMs": record.audio_ms,
        "routeGroup": record.route_group,
        "modelMultiplier": record.model_multiplier,
        "routeMultiplier": record.route_multiplier,
        "tierMultiplier": record.tier_multiplier,
        "groupMultiplier": record.group_multiplier,
        "packagePaid": record.package_amount > 0,
        "keyRemark": line.key_remark,
        "rules": record.rules,
    }


def _cell(value: Any) -> Any:
    """A CSV cell: booleans as JSON spells them (``str(True)`` would be ``True``)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    return value


def _csv(rows: list[dict[str, Any]]) -> str:
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=COLUMNS, lineterminator="\n")
    writer.writeheader()
    writer.writerows({name: _cell(value) for name, value in row.items()} for row in rows)
    return out.getvalue()


def _utc(moment: datetime | None) -> datetime | None:
    if moment is None:
        return None
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment


@router.get(
    "/api/v1/user/bills",
    summary="Your usage records (JSON, or CSV with format=csv)",
    responses={**MANAGER_ERRORS, **error_responses(404)},  # 404: `key` is not yours
)
async def my_bills(
    principal: ManagerDep,
    accounts: AccountsDep,
    usage: UsageDep,
    since: datetime | None = None,
    until: datetime | None = None,
    key: str | None = None,
    model: str | None = None,
    limit: Annotated[int, Query(ge=1, le=10_000)] = 100,
    offset: Annotated[Offset, Query()] = 0,
    format: Annotated[str, Query(pattern="^(json|csv)$")] = "json",
) -> Any:
    """``key`` is one of your keys (the whole key), to see only its calls."""
    key_id = None
    if key:
        key_id = (await accounts.own_key(principal.user_id, key)).id
    query = UsageQuery(
        user_id=principal.user_id,
        key_id=key_id,
        model=model,
        since=_utc(since),
        until=_utc(until),
        limit=limit,
        offset=offset,
    )
    lines = await usage.bill_lines(query)
    rows = [_row(line) for line in lines]
    if format == "csv":
        headers = {"content-disposition": 'attachment; filename="relaygate-bill.csv"'}
        return Response(_csv(rows), media_type="text/csv", headers=headers)
    return envelope(rows, f"get bills success, {len(rows)} records")
