"""Passkeys in the console: rename and delete on ``/console/account`` (forms), and the
sign-in by passkey behind the login page's button.

Registering one is console.js's part (web/assets/console/passkeys.js): the browser's
``navigator.credentials.create`` with the options of the JSON API
(``/api/v1/user/passkeys/...``, which accepts this cookie with the ``X-CSRF-Token``
header). Signing in: the script asks ``/api/v1/auth/passkey/options``, runs
``navigator.credentials.get`` and posts the answer here, where ``PasskeyService`` checks
it and a browser session opens as the magic-link confirm opens one (a new id, the
presented session ended, the same cookie), refused from another site (SameOrigin).
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, RedirectResponse, Response
from pydantic import ValidationError

from relaygate.accounts.passkey_api import Assertion
from relaygate.accounts.sessions import COOKIE
from relaygate.core.errors import InvalidRequest
from relaygate.services import PasskeysDep, SessionsDep
from relaygate.web.forms import page_form
from relaygate.web.pages.auth import NEXT_COOKIE
from relaygate.web.session import CsrfDep, SameOriginDep, client_of, safe_next, set_session_cookie

__all__ = ["router"]

router = APIRouter(include_in_schema=False)
ACCOUNT = "/console/account"


def _back(done: str) -> RedirectResponse:
    return RedirectResponse(f"{ACCOUNT}?done={done}#passkeys", status_code=303)


@router.post(ACCOUNT + "/passkeys/{passkey_id:int}/rename")
async def rename(request: Request, passkey_id: int, user: CsrfDep, svc: PasskeysDep) -> Response:
    form = await page_form(request)
    await svc.rename(user.user_id, passkey_id, str(form.get("name", "")))
    return _back("passkey-renamed")


@router.post(ACCOUNT + "/passkeys/{passkey_id:int}/delete")
async def delete(passkey_id: int, user: CsrfDep, svc: PasskeysDep) -> Response:
    await svc.delete(user.user_id, passkey_id)
    return _back("passkey-deleted")


def _credential(form: dict[str, Any]) -> dict[str, Any]:
    try:
        found = Assertion.model_validate({"credential": form.get("credential")})
    except ValidationError as exc:
        raise InvalidRequest("'credential' is not a passkey's answer.", param="credential") from exc
    return found.credential.model_dump(exclude_none=True)


@router.post("/console/login/passkey", dependencies=[SameOriginDep])
async def sign_in(request: Request, passkeys: PasskeysDep, sessions: SessionsDep) -> Response:
    """JSON in (``{"credential": ..., "next": ...}``), JSON out (``{"location": ...}``,
    where the script goes next); a refusal is the console's error page with its status."""
    form = await page_form(request)
    user_id = await passkeys.authenticate(_credential(form))
    opened = await sessions.create(
        user_id, client_of(request), replacing=request.cookies.get(COOKIE)
    )
    target = safe_next(str(form.get("next") or "") or request.cookies.get(NEXT_COOKIE))
    response = JSONResponse({"location": target}, headers={"cache-control": "no-store"})
    set_session_cookie(response, request, sessions, opened.token)
    if NEXT_COOKIE in request.cookies:
        response.delete_cookie(NEXT_COOKIE, path="/console")
    return response
