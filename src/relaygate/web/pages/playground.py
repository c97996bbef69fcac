"""``/console/playground``: chat with any model the user may call, through the real relay.

The call is not made by this module: the page's script (``playground.js``) calls
``/v1/chat/completions`` itself, streaming, with a playground API key of the user's, so
the call takes the same path as any client's (authentication, limits, holds, billing)
and shows in the bills like any other. The key:

* ``POST /console/playground/key`` (session + CSRF) makes it: remark "Playground",
  ``purpose`` "playground", expiring after :data:`KEY_TTL`, limited to the models the page
  offers; the user's previous playground keys are deleted in the same transaction, so
  they do not pile up. The secret goes to the page's script only (JSON, ``no-store``),
  which keeps it in memory; the server keeps its digest, as for every key.
* ``GET /console/playground/calls/<request id>`` (session + CSRF header) answers the
  call's tokens and exact charge from its bill line, found by the relay's
  ``x-request-id``; another user's call is a 404.

Without JavaScript the page says the playground needs it (the form keeps its settings in
the URL); every other console page works without it.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, JSONResponse

from relaygate.core.clock import utcnow
from relaygate.core.money import format_money
from relaygate.services import ServicesDep
from relaygate.web.render import render
from relaygate.web.session import ConsoleUserDep, CsrfDep

__all__ = ["KEY_TTL", "router"]

router = APIRouter(include_in_schema=False)
PAGE = "/console/playground"
KEY_TTL = timedelta(hours=4)
KEY_REMARK = "Playground"
DEFAULT_MODEL = "relaygate-echo"
_NO_STORE = {"cache-control": "no-store"}


async def _models(s: ServicesDep, user_id: int) -> list[str]:
    """The models the user may call that some channel serves (prices.for_user)."""
    served = [name for name, _ in s.relay.router.models()]
    return [line.model for line in await s.console.prices.for_user(user_id, served=served)]


def _choice(wanted: str | None, models: list[str]) -> str:
    if wanted in models:
        return str(wanted)
    if DEFAULT_MODEL in models:
        return DEFAULT_MODEL
    return models[0] if models else ""


@router.get(PAGE, response_class=HTMLResponse)
async def playground(request: Request, user: ConsoleUserDep, s: ServicesDep) -> HTMLResponse:
    models = await _models(s, user.user_id)
    query = request.query_params
    settings = {
        "model": _choice(query.get("model"), models),
        "system": query.get("system", ""),
        "temperature": query.get("temperature", ""),
        "max_tokens": query.get("max_tokens", ""),
    }
    context = {"models": models, "settings": settings}
    return render(request, "playground/index.html", context, user=user)


@router.post(PAGE + "/key")
async def new_key(user: CsrfDep, s: ServicesDep) -> JSONResponse:
    models = await _models(s, user.user_id)
    issued = await s.accounts.replace_playground_key(
        user.user_id,
        remark=KEY_REMARK,
        permissions=models,
        expired_at=utcnow() + KEY_TTL,
        actor_id=user.user_id,
    )
    expires = issued.record.expired_at
    body = {
        "key": issued.key,
        "hint": issued.record.hint,
        "expires_at": expires.isoformat() if expires else None,
    }
    return JSONResponse(body, headers=_NO_STORE)


@router.get(PAGE + "/calls/{request_id}")
async def call_charge(request_id: str, user: CsrfDep, s: ServicesDep) -> JSONResponse:
    row = await s.console.bills.by_request(user.user_id, request_id)
    body: dict[str, Any] = {
        "request_id": row.request_id,
        "model": row.model,
        "status": row.status,
        "prompt_tokens": row.prompt_tokens,
        "completion_tokens": row.completion_tokens,
        "amount": format_money(row.amount),
        "free_amount": format_money(row.free_amount),
        "package_amount": format_money(row.package_amount),
        "bill_id": row.id,
    }
    return JSONResponse(body, headers=_NO_STORE)
