"""The platform's key-management API for users (platform-api.md §10).

``/api/v1/user/admin/*``: form-urlencoded (or JSON) bodies, the ``{statusCode, message,
data}`` envelope, authenticated by the user's management key (``is_admin``) or by the
user's signed-in console session (the ``rg_session`` cookie, with ``X-CSRF-Token`` on
state-changing requests). A management key can create, change and delete its user's
ordinary keys but never create or touch an admin key. Each route has the platform's
documented rate (10 QPS, 1 QPS for the listing), and a user has at most 5,000 keys.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import Annotated, Any, TypeVar

from fastapi import APIRouter, Depends, Request

from relaygate.accounts.api import presented_key
from relaygate.accounts.models import ApiKey
from relaygate.accounts.principal import Principal
from relaygate.accounts.sessions import COOKIE, CSRF_HEADER, BrowserSessions, csrf_matches
from relaygate.core.envelope import envelope, error_responses
from relaygate.core.errors import (
    AuthenticationFailed,
    InvalidRequest,
    PermissionDenied,
    RateLimited,
)
from relaygate.core.forms import (
    BOOL_JSON,
    BOOL_TEXT,
    MONEY_JSON,
    MONEY_TEXT,
    NAMES_JSON,
    NAMES_TEXT,
    TIME_TEXT,
    form_body,
    parse_body,
    parse_bool,
    parse_json_list,
)
from relaygate.core.money import format_money, parse_money
from relaygate.services import AccountsDep, KVDep, SessionsDep

__all__ = ["MANAGER_ERRORS", "MAX_KEYS_PER_USER", "ManagerDep", "router", "throttle"]

MAX_KEYS_PER_USER = 5000

_KEY = {"type": "string", "minLength": 1, "maxLength": 200, "description": "The API key."}
_REMARK = {"type": "string", "maxLength": 500}
_NO_ADMIN = {
    **BOOL_TEXT,
    "description": "Only false: a management key cannot mint admin keys (403).",
}
_KEY_FIELDS = {
    "remark": _REMARK,
    "expired_at": TIME_TEXT,
    "max_fee": MONEY_TEXT,
    "permissions": NAMES_TEXT,
}
_KEY_JSON = {
    "expired_at": {"anyOf": [TIME_TEXT, {"type": "null"}]},
    "max_fee": MONEY_JSON,
    "permissions": NAMES_JSON,
}
_NEW_BODY = form_body(
    {**_KEY_FIELDS, "is_admin": _NO_ADMIN},
    {**_KEY_JSON, "is_admin": {**BOOL_JSON, "description": _NO_ADMIN["description"]}},
    required=("expired_at", "max_fee"),
)
_UPDATE_BODY = form_body(
    {"key": _KEY, **_KEY_FIELDS, "is_disabled": BOOL_TEXT, "is_admin": _NO_ADMIN},
    {**_KEY_JSON, "is_disabled": BOOL_JSON, "is_admin": BOOL_JSON},
    required=("key",),
)
_DELETE_BODY = form_body({"key": _KEY}, required=("key",))


_SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


async def require_manager(
    request: Request, accounts: AccountsDep, sessions: SessionsDep
) -> Principal:
    """A management key, or (without any key) the console's signed-in browser session, so
    a user can do in the browser what a management key does. A session's state-changing
    request must carry its CSRF token in ``X-CSRF-Token``: a cross-site page can make the
    browser send the cookie, never read the token."""
    presented = presented_key(request)
    cookie = request.cookies.get(COOKIE)
    if presented is None and cookie:
        return await _session_principal(request, sessions, cookie)
    principal = await accounts.authenticate(presented, time.time())
    if not principal.is_admin:
        raise PermissionDenied("This route needs the account's management key (没有权限).")
    return principal


async def _session_principal(request: Request, sessions: BrowserSessions, cookie: str) -> Principal:
    active = await sessions.resolve(cookie)
    if active is None:
        raise AuthenticationFailed("This console session is unknown, revoked or expired.")
    if request.method not in _SAFE_METHODS and not csrf_matches(
        active, request.headers.get(CSRF_HEADER)
    ):
        raise PermissionDenied("A console session's request needs its X-CSRF-Token header.")
    return Principal(
        user_id=active.user_id,
        key_id=0,  # no key: a session is not an API key
        is_admin=True,
        is_operator=active.is_operator,
        permissions=None,
        expires_at=None,
        group=active.group,
    )


ManagerDep = Annotated[Principal, Depends(require_manager)]


def throttle(per_second: int, route: str) -> Any:
    """A dependency enforcing the platform's per-route QPS for each user."""

    async def check(principal: ManagerDep, kv: KVDep) -> None:
        hit = await kv.rates.hit(f"qps:{route}:{principal.user_id}", 1, limit=per_second)
        if not hit.allowed:
            retry = str(max(1, round(hit.reset_after_s)))
            raise RateLimited(
                f"Too many requests: {per_second} per second.", headers={"retry-after": retry}
            )

    return Depends(check)


async def _form(request: Request) -> dict[str, Any]:
    return parse_body(await request.body(), request.headers.get("content-type", ""))


_NO_ADMIN_KEYS = (
    "A management key cannot create or promote admin keys; the operator issues them "
    "(POST /api/v1/operator/users/{id}/keys with is_admin)."
)


def _refuse_admin(form: dict[str, Any]) -> None:
    """``is_admin=true`` is a 403, not silently ignored: a key that can mint management keys
    could never be revoked for good, so only the operator API issues them."""
    if "is_admin" in form and parse_bool(form["is_admin"], "is_admin"):
        raise PermissionDenied(_NO_ADMIN_KEYS)


def _permissions(value: Any) -> list[str] | None:
    """The models a key may use; none given (or ``[]``) means every model."""
    return parse_json_list(value, "permissions") or None


def _time(value: Any, field: str) -> datetime | None:
    if value in (None, ""):
        return None
    try:
        moment = datetime.fromisoformat(str(value).replace("Z", "+00:00"))
        return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)
    except (ValueError, OverflowError) as exc:  # OverflowError: no UTC time (year 1, +01:00)
        raise InvalidRequest(f"'{field}' must be an ISO 8601 time.", param=field) from exc
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def _fee(value: Any, field: str) -> int:
    """A key's spend cap in currency units (``"5"``, ``"0.25"``), as micro-units."""
    micro = parse_money(value, field)
    if micro < 0:
        raise InvalidRequest(f"'{field}' must be a non-negative amount.", param=field)
    return micro


def _iso(moment: datetime | None) -> str | None:
    return None if moment is None else moment.isoformat().replace("+00:00", "Z")


def _key_out(row: ApiKey) -> dict[str, Any]:
    """The platform's 12 fields; ``key`` is the hint, since only a digest is stored."""
    return {
        "key": row.hint,
        "user_id": str(row.user_id),
        "remark": row.remark,
        "created_at": _iso(row.created_at),
        "used_at": _iso(row.used_at),
        "expired_at": _iso(row.expired_at),
        "used_times": str(row.used_times),
        "used_fee": format_money(row.used_fee),
        "max_fee": format_money(row.max_fee),
        "permissions": row.permissions if row.permissions is not None else [],
        "is_admin": row.is_admin,
        "is_disabled": row.is_disabled,
    }


# Every route of a management key: 401 without a valid key, 403 for a key that is not a
# management key, 400 for invalid input; and here 429 past the route's QPS.
MANAGER_ERRORS = error_responses(400, 401, 403, 500)
router = APIRouter(
    prefix="/api/v1/user/admin",
    tags=["platform: API keys"],
    responses={**MANAGER_ERRORS, **error_responses(429)},
)


Handler = TypeVar("Handler", bound=Callable[..., Awaitable[dict[str, Any]]])


def _form_route(
    paths: tuple[str, ...],
    summary: str,
    per_second: int,
    name: str,
    body: dict[str, Any],
    errors: tuple[int, ...] = (),
) -> Callable[[Handler], Handler]:
    """Register one handler under the platform's path and its aliases, its documented
    form body (``body``, from :func:`form_body`), QPS, and the errors it answers besides
    the router's."""

    def register(handler: Handler) -> Handler:
        for index, path in enumerate(paths):
            label = summary if index == 0 else f"{summary} (alias)"
            router.post(
                path,
                summary=label,
                openapi_extra=body,
                dependencies=[throttle(per_second, name)],
                responses=error_responses(*errors),
            )(handler)
        return handler

    return register


@_form_route(("/new-api-token", "/create-api-token"), "Create an API key", 10, "new", _NEW_BODY)
async def new_api_token(
    request: Request, principal: ManagerDep, svc: AccountsDep
) -> dict[str, Any]:
    form = await _form(request)
    _refuse_admin(form)
    if "expired_at" not in form or "max_fee" not in form:
        raise InvalidRequest("'expired_at' and 'max_fee' are required.", param="expired_at")
    if await svc.key_count(principal.user_id) >= MAX_KEYS_PER_USER:
        raise InvalidRequest(f"A user may have at most {MAX_KEYS_PER_USER} API keys.")
    new = await svc.issue_key(
        principal.user_id,
        remark=str(form.get("remark", ""))[:500],
        permissions=_permissions(form.get("permissions")),
        expired_at=_time(form.get("expired_at"), "expired_at"),
        max_fee=_fee(form.get("max_fee", 0), "max_fee"),
        actor_id=principal.user_id,
    )
    return envelope(new.key, "New api token success")


@_form_route(("/update-api-token",), "Change an API key", 10, "update", _UPDATE_BODY, (404,))
async def update_api_token(
    request: Request, principal: ManagerDep, svc: AccountsDep
) -> dict[str, Any]:
    form = await _form(request)
    row = await svc.own_key(principal.user_id, str(form.get("key", "")))
    if row.is_admin:
        raise PermissionDenied("Admin keys cannot be changed through the API.")
    _refuse_admin(form)
    changes: dict[str, Any] = {}
    if "remark" in form:
        changes["remark"] = str(form["remark"])[:500]
    if "expired_at" in form:
        changes["expired_at"] = _time(form["expired_at"], "expired_at")
    if "max_fee" in form:
        changes["max_fee"] = _fee(form["max_fee"], "max_fee")
    if "permissions" in form:
        changes["permissions"] = _permissions(form["permissions"])
    if "is_disabled" in form:
        changes["is_disabled"] = parse_bool(form["is_disabled"], "is_disabled")
    await svc.update_key(row.id, changes, actor_id=principal.user_id)
    return envelope(None, "Update api token success")


@router.post(
    "/get-api-tokens", summary="List the user's API keys", dependencies=[throttle(1, "list")]
)
async def get_api_tokens(principal: ManagerDep, svc: AccountsDep) -> dict[str, Any]:
    keys = await svc.personal_keys(principal.user_id)
    return envelope([_key_out(k) for k in keys], f"Get API keys success, total keys: {len(keys)}")


@_form_route(
    ("/del-api-token", "/delete-api-token"), "Delete an API key", 10, "delete", _DELETE_BODY, (404,)
)
async def del_api_token(
    request: Request, principal: ManagerDep, svc: AccountsDep
) -> dict[str, Any]:
    form = await _form(request)
    row = await svc.own_key(principal.user_id, str(form.get("key", "")))
    if row.is_admin:
        raise PermissionDenied("Admin keys cannot be deleted through the API.")
    await svc.delete_key(row.id, actor_id=principal.user_id)
    return envelope(None, "Delete api key success")
