"""Resource-package routes: the operator's types and grants, and a user's own packages."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter
from pydantic import BaseModel, ConfigDict, Field

from relaygate.accounts.api import OPERATOR_ERRORS, OperatorDep
from relaygate.accounts.user_api import MANAGER_ERRORS, ManagerDep
from relaygate.billing.models import Package, PackageType
from relaygate.core.bounds import PositivePrice, RowId
from relaygate.core.envelope import envelope, error_responses, refused_when
from relaygate.core.errors import InvalidRequest, NotFound
from relaygate.core.money import format_money, parse_money
from relaygate.core.patch import omittable
from relaygate.services import AccountsDep, ChargingDep, PackagesDep

__all__ = ["router"]


class PackageTypeIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1, max_length=100)
    amount: PositivePrice
    scope_routes: list[str] = Field(default_factory=list)
    scope_models: list[str] = Field(default_factory=list)
    validity_days: int = Field(default=30, ge=1, le=3650)


class GrantIn(BaseModel):
    """Which package type to grant: by id or by name (one of them is required)."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={"anyOf": [{"required": ["type_id"]}, {"required": ["type_name"]}]},
    )

    type_id: RowId = omittable()
    type_name: str = omittable()
    source: str = Field(default="operator", max_length=32)


router = APIRouter(tags=["billing: resource packages"])
_NOT_FOUND = error_responses(404)


def _type_out(row: PackageType) -> dict[str, Any]:
    return {
        "id": row.id,
        "name": row.name,
        "amount": format_money(row.amount),
        "scope_routes": row.scope_routes,
        "scope_models": row.scope_models,
        "validity_days": row.validity_days,
    }


def package_out(row: Package) -> dict[str, Any]:
    return {
        "id": row.id,
        "name": row.name,
        "amount": format_money(row.amount),
        "remaining": format_money(row.remaining),
        "scope_routes": row.scope_routes,
        "scope_models": row.scope_models,
        "source": row.source,
        "expires_at": row.expires_at.isoformat().replace("+00:00", "Z"),
        "created_at": row.created_at.isoformat().replace("+00:00", "Z"),
    }


@router.post(
    "/api/v1/operator/package-types",
    summary="Define a resource package type",
    responses={**OPERATOR_ERRORS, **refused_when("a name another package type has")},
)
async def create_type(body: PackageTypeIn, _: OperatorDep, svc: PackagesDep) -> dict[str, Any]:
    fields = {**body.model_dump(), "amount": parse_money(body.amount)}
    return envelope(_type_out(await svc.create_type(fields)), "Package type created")


@router.get(
    "/api/v1/operator/package-types",
    summary="List resource package types",
    responses=OPERATOR_ERRORS,
)
async def list_types(_: OperatorDep, svc: PackagesDep) -> dict[str, Any]:
    return envelope([_type_out(row) for row in await svc.types()])


@router.post(
    "/api/v1/operator/users/{user_id}/packages",
    summary="Grant a package to a user",
    responses={**OPERATOR_ERRORS, **_NOT_FOUND},
)
async def grant(
    user_id: RowId,
    body: GrantIn,
    caller: OperatorDep,
    svc: PackagesDep,
    accounts: AccountsDep,
    charging: ChargingDep,
) -> dict[str, Any]:
    await accounts.user(user_id)
    type_id = body.type_id
    if type_id is None and body.type_name is not None:
        found = await svc.type_named(body.type_name)
        if found is None:
            raise NotFound(f"No package type named {body.type_name!r}.")
        type_id = found.id
    if type_id is None:
        raise InvalidRequest("Give 'type_id' or 'type_name'.", param="type_id")
    row = await svc.grant(user_id, type_id, body.source, actor_id=caller.user_id)
    charging.forget(user_id)
    return envelope(package_out(row), "Package granted")


@router.get(
    "/api/v1/operator/users/{user_id}/packages",
    summary="A user's packages",
    responses=OPERATOR_ERRORS,
)
async def user_packages(user_id: RowId, _: OperatorDep, svc: PackagesDep) -> dict[str, Any]:
    return envelope([package_out(row) for row in await svc.of_user(user_id)])


@router.get("/api/v1/user/packages", summary="Your resource packages", responses=MANAGER_ERRORS)
@router.post(
    "/api/v1/user/packages", summary="Your resource packages (POST form)", responses=MANAGER_ERRORS
)
async def my_packages(
    principal: ManagerDep, svc: PackagesDep, include_expired: bool = False
) -> dict[str, Any]:
    rows = await svc.of_user(principal.user_id, include_expired=include_expired)
    return envelope([package_out(row) for row in rows], "get packages success")
