"""``/console/playground``: chat with any model the user may call, through the real relay.

The call is not made by this module: the page's script (``playground.js``) calls
``/v1/chat/completions`` itself, streaming, with a playground API key of the user's, so
the call takes the same path as any client's (authentication, limits, holds, billing)
and shows in the bills like any other. The key:

* ``POST /console/playground/key`` (session + CSRF) gives it a new secret: each user has
  one playground key (remark "Playground", ``purpose`` "playground", not listed on the
  keys page), made at the first visit and rotated at every later one: a new secret, an
  expiry :data:`KEY_TTL` away, the models the page offers; the old secret stops working
  at once, and the bills keep naming the one key. The secret goes to the page's script
  only (JSON, ``no-store``), which keeps it in memory; the server keeps its digest, as
  for every key.
* ``GET /console/playground/calls/<request id>`` (session + CSRF header) answers the
  call's tokens and exact charge from its bill line, found by the relay's
  ``x-request-id``, and what each resource package paid (by name: a call a package paid
  costs the balance nothing, and "charged 0" alone would misread as free); another
  user's call is a 404.

Without JavaScript the same form posts to ``/console/playground`` (CSRF): the server
makes one non-streamed call to its own relay with the playground key, rotated
(web/playground_call.py; the secret never leaves the process and is not stored) and
renders the page with the answer, its tokens and charge. The conversation so far rides in
a hidden field. This POST answers with the page rather than a redirect: the answer is the
page, and nothing is kept on the server to redirect to.
"""

from __future__ import annotations

import asyncio
import json
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, JSONResponse

from relaygate.accounts.service import NewKey
from relaygate.accounts.sessions import ActiveSession
from relaygate.billing.bills_view import BillRow, PackagePaid
from relaygate.core.clock import utcnow
from relaygate.core.errors import InvalidRequest, NotFound
from relaygate.core.money import format_money
from relaygate.services import ServicesDep
from relaygate.web.forms import page_form
from relaygate.web.i18n import N_
from relaygate.web.playground_call import Reply, chat_once, own_origin
from relaygate.web.render import render
from relaygate.web.session import ConsoleUserDep, CsrfDep

__all__ = ["KEY_TTL", "Turn", "router"]

router = APIRouter(include_in_schema=False)
PAGE = "/console/playground"
KEY_TTL = timedelta(hours=4)
KEY_REMARK = "Playground"
DEFAULT_MODEL = "relaygate-echo"
_NO_STORE = {"cache-control": "no-store"}
UNREACHABLE = N_("The gateway could not be reached. Check your connection and try again.")
FAILED = N_("The call failed with HTTP status")
ROLES = ("user", "assistant")
_BILL_WAIT = (0.05, 0.1, 0.2, 0.4, 0.8)  # a free call's bill may land just after its answer


@dataclass(frozen=True, slots=True)
class Turn:
    """One message of the server-rendered conversation (the page without script)."""

    role: str  # "user", "assistant" or "error"
    text: str  # the message, or the relay's error message
    note: str = ""  # a msgid when the gateway gave no message of its own
    status: int = 0  # the HTTP status of a failed call
    bill: BillRow | None = None  # the answer's bill line
    packages: tuple[PackagePaid, ...] = ()  # the packages that paid (part of) it
    carried: bool = True  # False: a refused message, shown but not sent again


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


def _settings(fields: Any, models: list[str]) -> dict[str, str]:
    return {
        "model": _choice(fields.get("model"), models),
        "system": str(fields.get("system", "")),
        "temperature": str(fields.get("temperature", "")).strip(),
        "max_tokens": str(fields.get("max_tokens", "")).strip(),
    }


def _page(
    request: Request,
    user: ActiveSession,
    models: list[str],
    settings: dict[str, str],
    turns: list[Turn] | None = None,
) -> HTMLResponse:
    turns = turns or []
    history = [{"role": t.role, "content": t.text} for t in turns if t.role in ROLES and t.carried]
    context = {
        "models": models,
        "settings": settings,
        "turns": turns,
        "history": json.dumps(history, ensure_ascii=False) if history else "",
    }
    return render(request, "playground/index.html", context, user=user)


@router.get(PAGE, response_class=HTMLResponse)
async def playground(request: Request, user: ConsoleUserDep, s: ServicesDep) -> HTMLResponse:
    models = await _models(s, user.user_id)
    return _page(request, user, models, _settings(request.query_params, models))


def _history(raw: Any) -> list[Turn]:
    """The conversation the page posted back (user and assistant turns only)."""
    if not raw:
        return []
    try:
        items = json.loads(str(raw))
    except ValueError as exc:
        raise InvalidRequest("The conversation field is not valid JSON.", param="history") from exc
    if not isinstance(items, list) or not all(
        isinstance(m, dict) and m.get("role") in ROLES and isinstance(m.get("content"), str)
        for m in items
    ):
        raise InvalidRequest("The conversation field is not a list of turns.", param="history")
    return [Turn(m["role"], m["content"]) for m in items]


def _number(text: str, name: str, kind: type[float] | type[int]) -> float | int | None:
    if not text:
        return None
    try:
        return kind(text)
    except ValueError as exc:
        raise InvalidRequest(f"{name} must be a number.", param=name) from exc


def _payload(settings: dict[str, str], turns: list[Turn]) -> dict[str, Any]:
    messages = [{"role": "system", "content": settings["system"]}] if settings["system"] else []
    messages += [{"role": t.role, "content": t.text} for t in turns]
    payload: dict[str, Any] = {"model": settings["model"], "messages": messages}
    temperature = _number(settings["temperature"], "temperature", float)
    if temperature is not None:
        payload["temperature"] = temperature
    max_tokens = _number(settings["max_tokens"], "max_tokens", int)
    if max_tokens is not None:
        payload["max_tokens"] = max_tokens
    return payload


async def _bill(s: ServicesDep, user_id: int, request_id: str | None) -> BillRow | None:
    for pause in _BILL_WAIT if request_id else ():
        try:
            return await s.console.bills.by_request(user_id, str(request_id))
        except NotFound:
            await asyncio.sleep(pause)
    return None


async def _reply_turn(s: ServicesDep, user_id: int, reply: Reply) -> Turn:
    if reply.ok:
        bill = await _bill(s, user_id, reply.request_id)
        if bill is None:
            return Turn("assistant", reply.text)
        paid = await s.console.bills.packages_paid(user_id, bill.request_id)
        return Turn("assistant", reply.text, bill=bill, packages=paid)
    if reply.text:
        return Turn("error", reply.text)
    if reply.status:
        return Turn("error", "", note=FAILED, status=reply.status)
    return Turn("error", "", note=UNREACHABLE)


@router.post(PAGE, response_class=HTMLResponse)
async def send_without_script(request: Request, user: CsrfDep, s: ServicesDep) -> HTMLResponse:
    """The form without script: one non-streamed call, the page with its answer."""
    fields = await page_form(request)
    models = await _models(s, user.user_id)
    settings = _settings(fields, models)
    turns = _history(fields.get("history"))
    message = str(fields.get("message", "")).strip()
    if not message:
        return _page(request, user, models, settings, turns)
    turns.append(Turn("user", message))
    payload = _payload(settings, turns)
    origin = own_origin(request.scope)
    if origin is None:
        return _page(request, user, models, settings, [*turns, Turn("error", "", note=UNREACHABLE)])
    issued = await _new_key(s, user.user_id, models)
    reply = await chat_once(origin, issued.key, payload)
    answer = await _reply_turn(s, user.user_id, reply)
    if answer.role == "error":
        turns[-1] = Turn("user", message, carried=False)
    return _page(request, user, models, settings, [*turns, answer])


async def _new_key(s: ServicesDep, user_id: int, models: list[str]) -> NewKey:
    """The user's playground key with a new secret (module doc)."""
    return await s.accounts.rotate_playground_key(
        user_id,
        remark=KEY_REMARK,
        permissions=models,
        expired_at=utcnow() + KEY_TTL,
        actor_id=user_id,
    )


@router.post(PAGE + "/key")
async def new_key(user: CsrfDep, s: ServicesDep) -> JSONResponse:
    issued = await _new_key(s, user.user_id, await _models(s, user.user_id))
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
    paid = await s.console.bills.packages_paid(user.user_id, request_id)
    body: dict[str, Any] = {
        "request_id": row.request_id,
        "model": row.model,
        "status": row.status,
        "prompt_tokens": row.prompt_tokens,
        "completion_tokens": row.completion_tokens,
        "amount": format_money(row.amount),
        "free_amount": format_money(row.free_amount),
        "package_amount": format_money(row.package_amount),
        "packages": [
            {"package_id": p.package_id, "name": p.name, "amount": format_money(p.amount)}
            for p in paid
        ],
        "bill_id": row.id,
    }
    return JSONResponse(body, headers=_NO_STORE)
