"""Redemption-code routes: the operator's batches (create, list, disable, CSV export) and
a user's redemptions (redeem, history). Relaygate's own ([I]) routes in the platform
envelope; docs/payments.md."""

from __future__ import annotations

import csv
import io
from datetime import UTC, datetime
from typing import Annotated, Any

from fastapi import APIRouter, Request
from fastapi.responses import Response
from pydantic import BaseModel, ConfigDict, Field

from relaygate.accounts.api import OPERATOR_ERRORS, OperatorDep
from relaygate.accounts.user_api import MANAGER_ERRORS, ManagerDep
from relaygate.billing.bills_export import safe_cell
from relaygate.billing.redemption import (
    MAX_BATCH,
    BatchView,
    NewBatch,
    Redeemed,
    format_code,
)
from relaygate.core.bounds import INT32_MAX, PositivePrice, RowId
from relaygate.core.envelope import envelope, error_responses, refused_when
from relaygate.core.money import format_money, parse_money
from relaygate.core.patch import omittable
from relaygate.services import RedemptionsDep

__all__ = ["batch_csv", "router"]

CSV_COLUMNS = ("code", "batch", "value", "expires_at", "max_redemptions", "used")


class BatchIn(BaseModel):
    """Money (``amount``) or a package (``package_type_id``) per redemption, not both."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={"oneOf": [{"required": ["amount"]}, {"required": ["package_type_id"]}]},
    )

    name: str = Field(min_length=1, max_length=100)
    amount: PositivePrice = omittable()
    package_type_id: RowId = omittable()
    quantity: Annotated[int, Field(ge=1, le=MAX_BATCH)] = 1
    max_redemptions: Annotated[int, Field(ge=1, le=INT32_MAX)] = 1
    expires_at: datetime


class RedeemIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    code: str = Field(min_length=1, max_length=64)


router = APIRouter(tags=["billing: redemption codes"])
_NOT_FOUND = error_responses(404)


def _utc(moment: datetime) -> datetime:
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def _iso(moment: datetime) -> str:
    return moment.isoformat().replace("+00:00", "Z")


def batch_out(view: BatchView) -> dict[str, Any]:
    row = view.batch
    return {
        "id": row.id,
        "name": row.name,
        "amount": format_money(row.amount) if row.package_type_id is None else None,
        "package_type_id": row.package_type_id,
        "package_name": view.package_name,
        "quantity": row.quantity,
        "max_redemptions": row.max_redemptions,
        "redeemed": view.redeemed,
        "codes_used_up": view.codes_used_up,
        "expires_at": _iso(row.expires_at),
        "active": row.active,
        "created_at": _iso(row.created_at),
    }


def redeemed_out(done: Redeemed) -> dict[str, Any]:
    return {
        "id": done.redemption_id,
        "batch": done.batch_name,
        "amount": format_money(done.amount) if done.package_id is None else None,
        "package_id": done.package_id,
        "package_name": done.package_name,
        "created_at": _iso(done.created_at),
    }


async def batch_csv(svc: RedemptionsDep, batch_id: int) -> Response:
    """The batch's codes as CSV, grouped for reading (the same for the console's button)."""
    view = await svc.batch(batch_id)
    row = view.batch
    value = view.package_name if row.package_type_id is not None else format_money(row.amount)
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(CSV_COLUMNS)
    for code in await svc.codes(batch_id):
        writer.writerow(
            (
                format_code(code.code),
                safe_cell(row.name),  # the operator's text: never a spreadsheet formula
                safe_cell(value),
                _iso(row.expires_at),
                row.max_redemptions,
                code.used,
            )
        )
    name = f"relaygate-codes-{batch_id}.csv"
    headers = {"content-disposition": f'attachment; filename="{name}"', "cache-control": "no-store"}
    return Response(out.getvalue(), media_type="text/csv", headers=headers)


@router.post(
    "/api/v1/operator/redemption-batches",
    summary="Generate a batch of redemption codes",
    responses={
        **OPERATOR_ERRORS,
        **_NOT_FOUND,
        **refused_when("both or neither of amount and package_type_id, or a past expiry"),
    },
)
async def create_batch(body: BatchIn, caller: OperatorDep, svc: RedemptionsDep) -> dict[str, Any]:
    spec = NewBatch(
        name=body.name,
        amount=parse_money(body.amount) if body.amount is not None else 0,
        package_type_id=body.package_type_id,
        max_redemptions=body.max_redemptions,
        quantity=body.quantity,
        expires_at=_utc(body.expires_at),
    )
    row = await svc.create_batch(spec, actor_id=caller.user_id)
    return envelope(batch_out(await svc.batch(row.id)), "Redemption codes generated")


@router.get(
    "/api/v1/operator/redemption-batches",
    summary="List redemption-code batches with their usage",
    responses=OPERATOR_ERRORS,
)
async def list_batches(_: OperatorDep, svc: RedemptionsDep) -> dict[str, Any]:
    return envelope([batch_out(view) for view in await svc.batches()])


@router.post(
    "/api/v1/operator/redemption-batches/{batch_id}/disable",
    summary="Disable a batch: its codes are refused from now on",
    responses={**OPERATOR_ERRORS, **_NOT_FOUND},
)
async def disable_batch(
    batch_id: RowId, caller: OperatorDep, svc: RedemptionsDep
) -> dict[str, Any]:
    await svc.set_active(batch_id, False, actor_id=caller.user_id)
    return envelope(batch_out(await svc.batch(batch_id)), "Batch disabled")


@router.post(
    "/api/v1/operator/redemption-batches/{batch_id}/enable",
    summary="Enable a disabled batch again",
    responses={**OPERATOR_ERRORS, **_NOT_FOUND},
)
async def enable_batch(batch_id: RowId, caller: OperatorDep, svc: RedemptionsDep) -> dict[str, Any]:
    await svc.set_active(batch_id, True, actor_id=caller.user_id)
    return envelope(batch_out(await svc.batch(batch_id)), "Batch enabled")


@router.get(
    "/api/v1/operator/redemption-batches/{batch_id}/codes.csv",
    summary="Export a batch's codes as CSV (the codes themselves: handle like gift cards)",
    responses={
        **OPERATOR_ERRORS,
        **_NOT_FOUND,
        200: {"content": {"text/csv": {"schema": {"type": "string"}}}, "description": "CSV"},
    },
    response_class=Response,
)
async def export_batch(batch_id: RowId, _: OperatorDep, svc: RedemptionsDep) -> Response:
    return await batch_csv(svc, batch_id)


@router.post(
    "/api/v1/user/redeem",
    summary="Redeem a code for money or a resource package",
    responses={
        **MANAGER_ERRORS,
        **error_responses(429),
        **refused_when("a code that is unknown, used up, expired, disabled or already yours"),
    },
)
async def redeem(
    body: RedeemIn, request: Request, principal: ManagerDep, svc: RedemptionsDep
) -> dict[str, Any]:
    client_ip = request.client.host if request.client else None
    done = await svc.redeem(principal.user_id, body.code, client_ip)
    return envelope(redeemed_out(done), "Code redeemed")


@router.get(
    "/api/v1/user/redemptions", summary="Your redemptions, newest first", responses=MANAGER_ERRORS
)
async def my_redemptions(principal: ManagerDep, svc: RedemptionsDep) -> dict[str, Any]:
    return envelope([redeemed_out(done) for done in await svc.history(principal.user_id)])
