"""``/console/account``: the user's email, signed-in sessions (with revoke), passkeys
(web/pages/passkeys.py changes them) and language.

Revoking is immediate (accounts/sessions.py deletes the row); revoking the session in use
signs this browser out.
"""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from relaygate.services import PasskeysDep, SessionsDep
from relaygate.web.i18n import N_
from relaygate.web.render import render
from relaygate.web.session import ConsoleUserDep, CsrfDep, clear_session_cookie

__all__ = ["router"]

router = APIRouter(include_in_schema=False)
PAGE = "/console/account"
NOTICES = {
    "passkey-added": N_("Passkey added: you can sign in with it on this site."),
    "passkey-renamed": N_("Passkey renamed."),
    "passkey-deleted": N_("Passkey deleted: it can no longer sign you in."),
}


@router.get(PAGE, response_class=HTMLResponse)
async def account(
    request: Request,
    user: ConsoleUserDep,
    sessions: SessionsDep,
    passkeys: PasskeysDep,
    done: str = "",
) -> HTMLResponse:
    context = {
        "sessions": await sessions.active(user.user_id),
        "passkeys": await passkeys.list(user.user_id),
        "notice": NOTICES.get(done, ""),
    }
    return render(request, "account/index.html", context, user=user)


@router.post(PAGE + "/sessions/{session_id}/revoke")
async def revoke(
    request: Request, session_id: int, user: CsrfDep, sessions: SessionsDep
) -> Response:
    await sessions.revoke(user.user_id, session_id)
    if session_id == user.session_id:
        response = RedirectResponse("/console/login", status_code=303)
        clear_session_cookie(response, request, sessions)
        return response
    return RedirectResponse(PAGE, status_code=303)


@router.post(PAGE + "/sessions/revoke-others")
async def revoke_others(user: CsrfDep, sessions: SessionsDep) -> Response:
    await sessions.revoke_all(user.user_id, keep=user.session_id)
    return RedirectResponse(PAGE, status_code=303)
