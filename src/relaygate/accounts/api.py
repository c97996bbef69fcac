"""Operator routes for users and keys, and the operator-authentication dependency.

Every ``/api/v1/operator/*`` route answers in the platform envelope and requires the
management key (``is_admin``) of an operator account.
"""

from __future__ import annotations

import time
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request

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
from relaygate.core.bounds import Offset, RowId
from relaygate.core.clock import utcnow
from relaygate.core.envelope import envelope, error_responses, refused_when
from relaygate.core.errors import Conflict, PermissionDenied
from relaygate.services import AccountsDep

__all__ = ["OPERATOR_ERRORS", "OperatorDep", "presented_key", "router"]


def presented_key(request: Request) -> str | None:
    """The key from ``Authorization: Bearer`` or ``x-api-key``, as the relay accepts them."""
    auth = request.headers.get("authorization")
    if auth and auth[:7].lower() == "bearer ":
        return auth[7:].strip()
    return request.headers.get("x-api-key")


async def require_operator(request: Request, accounts: AccountsDep) -> Principal:
    principal = await accounts.authenticate(presented_key(request), time.time())
    if not (principal.is_operator and principal.is_admin):
        raise PermissionDenied("This route needs the operator's management key.")
    return principal


OperatorDep = Annotated[Principal, Depends(require_operator)]

# An operator cannot lock themselves out through the API (the CLI's create-admin would be
# the only way back in): the key a request is made with cannot be disabled or expired by
# it, nor its user disabled. Another management key can.
_LOCKOUT = "This request is made with the {} it would disable: use another management key."


def _keeps_own_key(changes: dict[str, Any]) -> None:
    if changes.get("is_disabled") is True:
        raise Conflict(_LOCKOUT.format("key"), param="is_disabled")
    expires = changes.get("expired_at")
    if expires is not None and expires <= utcnow():
        raise Conflict(_LOCKOUT.format("key"), param="expired_at")


# Every operator route: 401 without a valid key, 403 for a key that is not the operator's
# management key, 400 for invalid input.
OPERATOR_ERRORS = error_responses(400, 401, 403, 500)
router = APIRouter(
    prefix="/api/v1/operator", tags=["operator: users and keys"], responses=OPERATOR_ERRORS
)


@router.post(
    "/users",
    summary="Create a user",
    responses=refused_when("an email that has an account already"),
)
async def create_user(body: UserCreate, caller: OperatorDep, svc: AccountsDep) -> dict[str, Any]:
    user = await svc.create_user(body.email, body.name, body.group, actor_id=caller.user_id)
    return envelope(UserOut.model_validate(user).model_dump(mode="json"), "User created")


@router.get("/users", summary="List users")
async def list_users(
    _: OperatorDep,
    svc: AccountsDep,
    offset: Offset = 0,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
) -> dict[str, Any]:
    users = await svc.users(offset, limit)
    return envelope([UserOut.model_validate(u).model_dump(mode="json") for u in users])


@router.get("/users/{user_id}", summary="Get a user", responses=error_responses(404))
async def get_user(user_id: RowId, _: OperatorDep, svc: AccountsDep) -> dict[str, Any]:
    return envelope(UserOut.model_validate(await svc.user(user_id)).model_dump(mode="json"))


@router.patch(
    "/users/{user_id}",
    summary="Change a user (name, pricing group, disabled)",
    responses=error_responses(404, 409),  # 409: disabling the caller's own account
)
async def update_user(
    user_id: RowId, body: UserPatch, caller: OperatorDep, svc: AccountsDep
) -> dict[str, Any]:
    changes = body.model_dump(exclude_unset=True)
    if user_id == caller.user_id and changes.get("is_disabled") is True:
        raise Conflict(_LOCKOUT.format("account"), param="is_disabled")
    user = await svc.update_user(user_id, changes, actor_id=caller.user_id)
    return envelope(UserOut.model_validate(user).model_dump(mode="json"), "User updated")


@router.post(
    "/users/{user_id}/keys", summary="Issue an API key (shown once)", responses=error_responses(404)
)
async def issue_key(
    user_id: RowId, body: KeyCreate, caller: OperatorDep, svc: AccountsDep
) -> dict[str, Any]:
    new = await svc.issue_key(user_id, **body.model_dump(), actor_id=caller.user_id)
    data = NewKeyOut.model_validate(
        {**KeyOut.model_validate(new.record).model_dump(), "key": new.key}
    )
    return envelope(data.model_dump(mode="json"), "New api token success")


@router.get(
    "/users/{user_id}/keys",
    summary="List a user's keys (hints only)",
    responses=error_responses(404),
)
async def list_keys(user_id: RowId, _: OperatorDep, svc: AccountsDep) -> dict[str, Any]:
    keys = await svc.personal_keys(user_id)
    return envelope([KeyOut.model_validate(k).model_dump(mode="json") for k in keys])


@router.patch(
    "/keys/{key_id}",
    summary="Update a key",
    responses=error_responses(404, 409),  # 409: disabling or expiring the caller's own key
)
async def update_key(
    key_id: RowId, body: KeyPatch, caller: OperatorDep, svc: AccountsDep
) -> dict[str, Any]:
    changes = body.model_dump(exclude_unset=True)
    if key_id == caller.key_id:
        _keeps_own_key(changes)
    row = await svc.update_key(key_id, changes, actor_id=caller.user_id)
    return envelope(KeyOut.model_validate(row).model_dump(mode="json"), "Update api token success")
