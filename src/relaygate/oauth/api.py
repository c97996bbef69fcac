"""The OAuth open API's JSON routes (platform-api.md §5.4–5.11; docs/oauth.md).

``/api/v1/user/oauth/*``: form-urlencoded (or JSON) bodies and the platform envelope.
``issue-token`` authenticates the app by its client credentials; the token routes by
``Authorization: Bearer omg-oat-v1-…``, each within the app's scope (oauth/scopes.py);
the developer's app routes (``apps``, inferred: the spec has only the console) by the
account's management key or console session. The Stripe top-up routes of a token live
with the payments (payments/api.py), which sit above this package.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request

from relaygate.accounts.api import presented_key
from relaygate.accounts.user_api import MANAGER_ERRORS, ManagerDep
from relaygate.core.envelope import envelope, error_responses, refused_when
from relaygate.core.forms import BOOL_JSON, BOOL_TEXT, MONEY_TEXT, form_body, parse_body, parse_bool
from relaygate.core.money import format_money, parse_money
from relaygate.oauth.apps import HOST, SCOPE, URL
from relaygate.oauth.charges import ChargeRequest
from relaygate.oauth.keys import AdminToken
from relaygate.oauth.records import AppView, NewApp, TokenOwner
from relaygate.oauth.scopes import ADMIN_TOKEN, GENERAL
from relaygate.services import AccountsDep, LedgerDep, OAuthDep

__all__ = ["GeneralDep", "TOKEN_ERRORS", "router", "token_owner"]

_TEXT = {"type": "string", "maxLength": 200}
_ISSUE_BODY = form_body(
    {
        "client_id": {"type": "string", "maxLength": 24},
        "client_secret": {"type": "string", "maxLength": 64},
        "code": {"type": "string", "maxLength": 64},
        "code_verifier": {"type": "string", "maxLength": 128, "description": "PKCE (S256)"},
        "redirect_uri": {
            "type": "string",
            "maxLength": 2000,
            "description": "If sent: as authorized",
        },
    },
    required=("client_id", "code"),
)
_CHARGE_BODY = form_body(
    {
        "amount": {**MONEY_TEXT, "description": "Currency units to charge, above zero."},
        "remark": {"type": "string", "maxLength": 500},
        "idempotency_key": {
            "type": "string",
            "pattern": "^[A-Za-z0-9_.:-]{1,100}$",
            "description": "Charges once per app and user; a repeat gets the first result.",
        },
    },
    {"amount": {"anyOf": [{"type": "integer", "minimum": 0}, MONEY_TEXT]}},
    required=("amount", "idempotency_key"),
)
_URL_TEXT = {"type": "string", "maxLength": 500, "pattern": f"^({URL.removeprefix('^')}.*)?$"}
_APP_BODY = form_body(
    {
        "name": {"type": "string", "minLength": 1, "maxLength": 100, "pattern": "\\S"},
        "logo_url": _URL_TEXT,
        "homepage": _URL_TEXT,
        "redirect_domains": {
            "type": "string",
            "maxLength": 2000,
            "pattern": f"^{HOST}([ ,]+{HOST}){{0,9}}[ ,]*$",
            "description": "1-10 host names, separated by commas or spaces (app.example.com).",
        },
        "scope": {
            "type": "string",
            "maxLength": 200,
            "pattern": SCOPE,
            "description": "Space-separated scopes: general_api_access, admin_token.",
        },
        "public": {**BOOL_TEXT, "description": "A public client (no secret kept): PKCE required."},
    },
    {"public": BOOL_JSON},
    required=("name", "redirect_domains", "scope"),
)
_TOKEN_ERRORS = error_responses(400, 401, 500)
# a token route that needs a scope: 403 ``insufficient_scope`` when the app lacks it
TOKEN_ERRORS = {**_TOKEN_ERRORS, **error_responses(403)}


async def token_owner(request: Request, oauth: OAuthDep) -> TokenOwner:
    """The caller of a token route (401 ``oauth_invalid_token_error`` otherwise)."""
    return await oauth.grants.authenticate(presented_key(request))


async def _general(who: Annotated[TokenOwner, Depends(token_owner)]) -> TokenOwner:
    return who.require(GENERAL)


async def _admin_scope(who: Annotated[TokenOwner, Depends(token_owner)]) -> TokenOwner:
    return who.require(ADMIN_TOKEN)


TokenDep = Annotated[TokenOwner, Depends(token_owner)]  # any scope (user-info)
GeneralDep = Annotated[TokenOwner, Depends(_general)]
AdminScopeDep = Annotated[TokenOwner, Depends(_admin_scope)]
router = APIRouter(prefix="/api/v1/user/oauth", tags=["oauth"], responses=_TOKEN_ERRORS)


async def _body(request: Request) -> dict[str, Any]:
    return parse_body(await request.body(), request.headers.get("content-type", ""))


def _text(body: dict[str, Any], field: str) -> str:
    value = body.get(field)
    return value if isinstance(value, str) else "" if value is None else str(value)


@router.post(
    "/issue-token",
    summary="Exchange an authorization code for a token",
    openapi_extra=_ISSUE_BODY,
)
async def issue_token(request: Request, oauth: OAuthDep) -> dict[str, Any]:
    body = await _body(request)
    granted = await oauth.grants.issue(
        _text(body, "client_id"),
        _text(body, "client_secret"),
        _text(body, "code"),
        _text(body, "code_verifier"),
        _text(body, "redirect_uri"),
    )
    data = {"user_id": str(granted.user_id), "client_id": granted.client_id, "token": granted.token}
    return envelope(data, "Issue OAuth Token success")


@router.post("/user-info", summary="The authorising user's profile")
async def user_info(who: TokenDep, accounts: AccountsDep) -> dict[str, Any]:
    user = await accounts.user(who.user_id)
    data = {
        "user_id": str(user.id),
        "email": user.email,
        "username": user.name,
        "created_at": user.created_at.isoformat().replace("+00:00", "Z"),
        "scope": who.scope,
    }
    return envelope(data, "get user info success")


@router.post("/balance", summary="The authorising user's balance", responses=error_responses(403))
async def balance(who: GeneralDep, ledger: LedgerDep) -> dict[str, Any]:
    got = await ledger.balance(who.user_id)
    data = {"balance": format_money(got.balance), "free_balance": format_money(got.free_balance)}
    return envelope(data, "get user balance success")


@router.post(
    "/charge",
    summary="Charge the user a fee, paid to the app's owner",
    openapi_extra=_CHARGE_BODY,
    responses={**error_responses(402, 403), **refused_when("a zero amount")},
)
async def charge(request: Request, who: GeneralDep, oauth: OAuthDep) -> dict[str, Any]:
    body = await _body(request)
    req = ChargeRequest(
        parse_money(body.get("amount", ""), "amount"),
        _text(body, "remark"),
        _text(body, "idempotency_key"),
    )
    done = await oauth.charges.charge(who, req)
    data = {
        "charge_id": done.charge_id,
        "amount": format_money(done.amount),
        "commission": format_money(done.commission),
        "balance_after": format_money(done.balance_after),
        "replayed": done.replayed,
    }
    return envelope(data, "Charge replayed" if done.replayed else "Charge success")


def _admin_out(got: AdminToken) -> dict[str, Any]:
    return {"key": got.key, "key_id": got.key_id, "hint": got.hint, "created": got.created}


@router.post(
    "/get-admin-token",
    summary="The app's management key for the user (the secret only when made now)",
    responses=error_responses(403),
)
async def get_admin_token(who: AdminScopeDep, oauth: OAuthDep) -> dict[str, Any]:
    got = await oauth.keys.admin_token(who, rotate=False)
    message = "Admin token created" if got.created else "Admin token exists: rotate for a new one"
    return envelope(_admin_out(got), message)


@router.post(
    "/update-admin-token",
    summary="A new management key for the app (the old one stops working)",
    responses=error_responses(403),
)
async def update_admin_token(who: AdminScopeDep, oauth: OAuthDep) -> dict[str, Any]:
    return envelope(
        _admin_out(await oauth.keys.admin_token(who, rotate=True)), "Admin token updated"
    )


def _app_out(app: AppView) -> dict[str, Any]:
    out: dict[str, Any] = {
        "client_id": app.client_id,
        "name": app.name,
        "logo_url": app.logo_url,
        "homepage": app.homepage,
        "redirect_domains": list(app.redirect_domains),
        "scope": app.scope,
        "public": app.public,
        "revenue": format_money(app.revenue),
        "created_at": app.created_at.isoformat().replace("+00:00", "Z"),
    }
    if app.secret is not None:
        out["client_secret"] = app.secret
    return out


def new_app(body: dict[str, Any]) -> NewApp:
    """An app's fields from a form (the console's too)."""
    domains = _text(body, "redirect_domains").replace(",", " ").split()
    return NewApp(
        name=_text(body, "name"),
        logo_url=_text(body, "logo_url"),
        homepage=_text(body, "homepage"),
        redirect_domains=tuple(domains),
        scope=_text(body, "scope"),
        public=parse_bool(body.get("public") or "false", "public"),
    )


@router.post(
    "/apps",
    summary="Register an app (the secret is in this answer only)",
    openapi_extra=_APP_BODY,
    responses={**MANAGER_ERRORS, **refused_when("a malformed domain, URL or scope")},
)
async def register_app(request: Request, principal: ManagerDep, oauth: OAuthDep) -> dict[str, Any]:
    app = await oauth.apps.register(principal.user_id, new_app(await _body(request)))
    return envelope(_app_out(app), "Register app success")


@router.get("/apps", summary="The caller's apps, with their revenue", responses=MANAGER_ERRORS)
async def list_apps(principal: ManagerDep, oauth: OAuthDep) -> dict[str, Any]:
    return envelope([_app_out(a) for a in await oauth.apps.owned(principal.user_id)])


@router.post(
    "/apps/{client_id}/rotate-secret",
    summary="A new client secret (the old one stops working)",
    responses={**MANAGER_ERRORS, **error_responses(404)},
)
async def rotate_secret(client_id: str, principal: ManagerDep, oauth: OAuthDep) -> dict[str, Any]:
    app = await oauth.apps.find_owned(principal.user_id, client_id)
    rotated = await oauth.apps.rotate(principal.user_id, app.id)
    return envelope(_app_out(rotated), "Rotate secret success")
