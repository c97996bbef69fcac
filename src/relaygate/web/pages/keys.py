"""``/console/keys``: "which keys exist and what may they do".

The user's keys (remark, hint, models, expiry, spend cap, per-key limits, used fee, last
use, status); create, edit, disable/enable, delete, through AccountService's operations
(the same the platform key API calls, written to the audit trail with ``actor_id``).

A new key's secret is shown once: the create POST keeps it in the kv cache for a few
minutes under the session and key id, and ``/console/keys/<id>/created`` takes it out at
its first view (POST/redirect/GET, so a reload never creates a second key, and a second
view shows only the hint). Another user's key id is the 404 page; management keys (the
operator's) are listed but changed only by the operator API.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from relaygate.accounts.models import ApiKey
from relaygate.accounts.sessions import ActiveSession
from relaygate.accounts.user_api import MAX_KEYS_PER_USER
from relaygate.core.clock import utcnow
from relaygate.core.errors import NotFound, PermissionDenied
from relaygate.services import ServicesDep
from relaygate.web.forms import page_form, page_form_list
from relaygate.web.i18n import N_
from relaygate.web.key_form import KeyForm, key_status, read_key_form
from relaygate.web.render import render
from relaygate.web.session import ConsoleUserDep, CsrfDep

__all__ = ["router"]

router = APIRouter(include_in_schema=False)
PAGE = "/console/keys"
_REVEAL_SECONDS = 600
MANAGEMENT_KEY = N_("Management keys are issued by the operator and cannot be changed here.")
TOO_MANY = N_("You have reached the limit of keys. Delete one you no longer use.")
NOTICES = {
    "updated": N_("Key saved."),
    "disabled": N_("Key disabled: calls with it are refused until you enable it."),
    "enabled": N_("Key enabled."),
    "deleted": N_("Key deleted."),
}


def _back(done: str) -> RedirectResponse:
    return RedirectResponse(f"{PAGE}?done={done}", status_code=303)


def _reveal_slot(user: ActiveSession, key_id: int) -> str:
    return f"console:new-key:{user.session_id}:{key_id}"


async def _models(s: ServicesDep, user_id: int, also: list[str] | None = None) -> list[str]:
    """The models the user may call (those some channel serves), plus any a key already
    names, so editing a key never drops a model silently."""
    served = s.relay.router.names()  # the tools too: a key may allow or deny each
    lines = await s.console.prices.for_user(user_id, served=served)
    return sorted({line.model for line in lines} | set(also or ()))


async def _own(s: ServicesDep, user: ActiveSession, key_id: int) -> ApiKey:
    row = await s.accounts.user_key(user.user_id, key_id)
    if row.purpose:  # the playground's or an OAuth grant's: not listed, not edited here
        raise NotFound("No such API key.")
    if row.is_admin:
        raise PermissionDenied(MANAGEMENT_KEY)
    return row


@router.get(PAGE, response_class=HTMLResponse)
async def keys(request: Request, user: ConsoleUserDep, s: ServicesDep, done: str = "") -> Response:
    rows = await s.accounts.personal_keys(user.user_id)
    now = utcnow()
    lines = [{"key": row, "status": key_status(row, now)} for row in rows]
    context = {"lines": lines, "notice": NOTICES.get(done, "")}
    return render(request, "keys/index.html", context, user=user)


def _form_page(
    request: Request, user: ActiveSession, form: KeyForm, models: list[str], **extra: Any
) -> HTMLResponse:
    status = 400 if form.errors else 200
    context = {"form": form, "models": models, "row": None, "refused": "", **extra}
    return render(request, "keys/form.html", context, user=user, status=status)


@router.get(PAGE + "/new", response_class=HTMLResponse)
async def new_form(request: Request, user: ConsoleUserDep, s: ServicesDep) -> Response:
    return _form_page(request, user, KeyForm.blank(), await _models(s, user.user_id))


@router.post(PAGE + "/new", response_class=HTMLResponse)
async def create(request: Request, user: CsrfDep, s: ServicesDep) -> Response:
    models = await _models(s, user.user_id)
    form = await page_form(request)
    chosen = await page_form_list(request, "models")
    fields, shown = read_key_form(form, chosen, models, today=utcnow().date())
    if fields is None:
        return _form_page(request, user, shown, models)
    if await s.accounts.key_count(user.user_id) >= MAX_KEYS_PER_USER:
        return _form_page(request, user, shown, models, refused=TOO_MANY)
    new = await s.accounts.issue_key(user.user_id, **fields.fields(), actor_id=user.user_id)
    slot = _reveal_slot(user, new.record.id)
    await s.kv.cache.set(slot, new.key.encode(), ttl_s=_REVEAL_SECONDS)
    return RedirectResponse(f"{PAGE}/{new.record.id}/created", status_code=303)


@router.get(PAGE + "/{key_id:int}/created", response_class=HTMLResponse)
async def created(request: Request, key_id: int, user: ConsoleUserDep, s: ServicesDep) -> Response:
    row = await _own(s, user, key_id)
    slot = _reveal_slot(user, key_id)
    secret = await s.kv.cache.get(slot)
    if secret is not None:
        await s.kv.cache.delete(slot)
    context = {"row": row, "secret": secret.decode() if secret else ""}
    return render(request, "keys/created.html", context, user=user)


@router.get(PAGE + "/{key_id:int}", response_class=HTMLResponse)
async def edit_form(
    request: Request, key_id: int, user: ConsoleUserDep, s: ServicesDep
) -> Response:
    row = await _own(s, user, key_id)
    models = await _models(s, user.user_id, row.permissions)
    return _form_page(request, user, KeyForm.of(row), models, row=row)


@router.post(PAGE + "/{key_id:int}", response_class=HTMLResponse)
async def update(request: Request, key_id: int, user: CsrfDep, s: ServicesDep) -> Response:
    row = await _own(s, user, key_id)
    models = await _models(s, user.user_id, row.permissions)
    form = await page_form(request)
    chosen = await page_form_list(request, "models")
    fields, shown = read_key_form(form, chosen, models, today=utcnow().date(), current=row)
    if fields is None:
        return _form_page(request, user, shown, models, row=row)
    await s.accounts.update_key(row.id, fields.fields(), actor_id=user.user_id)
    return _back("updated")


@router.post(PAGE + "/{key_id:int}/disable")
async def disable(key_id: int, user: CsrfDep, s: ServicesDep) -> Response:
    row = await _own(s, user, key_id)
    await s.accounts.update_key(row.id, {"is_disabled": True}, actor_id=user.user_id)
    return _back("disabled")


@router.post(PAGE + "/{key_id:int}/enable")
async def enable(key_id: int, user: CsrfDep, s: ServicesDep) -> Response:
    row = await _own(s, user, key_id)
    await s.accounts.update_key(row.id, {"is_disabled": False}, actor_id=user.user_id)
    return _back("enabled")


@router.post(PAGE + "/{key_id:int}/delete")
async def delete(key_id: int, user: CsrfDep, s: ServicesDep) -> Response:
    row = await _own(s, user, key_id)
    await s.accounts.delete_key(row.id, actor_id=user.user_id)
    return _back("deleted")
