"""Operator routes for users and keys, and the operator-authentication dependency.

Every ``/api/v1/operator/*`` route answers in the platform envelope and requires the
management key (``is_admin``) of an operator account.
"""

from __future__ import annotations

import time
from typing import Annotated, Any, cast

from fastapi import APIRouter, Depends, Request

from relaygate.accounts.principal import Principal
from relaygate.accounts.schemas import (
    KeyCreate,
    KeyOut,
    KeyPatch,
    NewKeyOut,
    UserCreate,
    UserOut,
    UserPatch,
)
from relaygate.accounts.service import AccountService
from relaygate.core.envelope import envelope
from relaygate.core.errors import PermissionDenied

__all__ = ["OperatorDep", "presented_key", "router"]


def presented_key(request: Request) -> str | None:
    """The key from ``Authorization: Bearer`` or ``x-api-key``, as the relay accepts them."""
    auth = request.headers.get("authorization")
    if auth and auth[:7].lower() == "bearer ":
        return auth[7:].strip()
    return request.headers.get("x-api-key")


def accounts(request: Request) -> AccountService:
    return cast(AccountService, request.app.state.accounts)


async def require_operator(request: Request) -> Principal:
    principal = await accounts(request).authenticate(presented_key(request), time.time())
    if not (principal.is_operator and principal.is_admin):
        raise PermissionDenied("This route needs the operator's management key.")
    return principal


OperatorDep = Annotated[Principal, Depends(require_operator)]
AccountsDep = Annotated[AccountService, Depends(accounts)]

router = APIRouter(prefix="/api/v1/operator", tags=["operator: users and keys"])


@router.post("/users", summary="Create a user")
async def create_user(body: UserCreate, _: OperatorDep, svc: AccountsDep) -> dict[str, Any]:
    user = await svc.create_user(body.email, body.name, body.group)
    return envelope(UserOut.model_validate(user).model_dump(mode="json"), "User created")


@router.get("/users", summary="List users")
async def list_users(
    _: OperatorDep, svc: AccountsDep, offset: int = 0, limit: int = 100
) -> dict[str, Any]:
    users = await svc.users(offset, min(max(limit, 1), 1000))
    return envelope([UserOut.model_validate(u).model_dump(mode="json") for u in users])


@router.get("/users/{user_id}", summary="Get a user")
async def get_user(user_id: int, _: OperatorDep, svc: AccountsDep) -> dict[str, Any]:
    return envelope(UserOut.model_validate(await svc.user(user_id)).model_dump(mode="json"))


@router.patch("/users/{user_id}", summary="Change a user (name, pricing group, disabled)")
async def update_user(
    user_id: int, body: UserPatch, _: OperatorDep, svc: AccountsDep
) -> dict[str, Any]:
    user = await svc.update_user(user_id, body.model_dump(exclude_unset=True))
    return envelope(UserOut.model_validate(user).model_dump(mode="json"), "User updated")


@router.post("/users/{user_id}/keys", summary="Issue an API key (shown once)")
async def issue_key(
    user_id: int, body: KeyCreate, _: OperatorDep, svc: AccountsDep
) -> dict[str, Any]:
    new = await svc.issue_key(user_id, **body.model_dump())
    data = NewKeyOut.model_validate(
        {**KeyOut.model_validate(new.record).model_dump(), "key": new.key}
    )
    return envelope(data.model_dump(mode="json"), "New api token success")


@router.get("/users/{user_id}/keys", summary="List a user's keys (hints only)")
async def list_keys(user_id: int, _: OperatorDep, svc: AccountsDep) -> dict[str, Any]:
    keys = await svc.keys_of(user_id)
    return envelope([KeyOut.model_validate(k).model_dump(mode="json") for k in keys])


@router.patch("/keys/{key_id}", summary="Update a key")
async def update_key(
    key_id: int, body: KeyPatch, _: OperatorDep, svc: AccountsDep
) -> dict[str, Any]:
    row = await svc.update_key(key_id, body.model_dump(exclude_unset=True))
    return envelope(KeyOut.model_validate(row).model_dump(mode="json"), "Update api token success")
