"""``/console/account``: the user's email, signed-in sessions (with revoke) and language.

Revoking is immediate (accounts/sessions.py deletes the row); revoking the session in use
signs this browser out.
"""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from relaygate.services import SessionsDep
from relaygate.web.render import render
from relaygate.web.session import ConsoleUserDep, CsrfDep, clear_session_cookie

__all__ = ["router"]

router = APIRouter(include_in_schema=False)
PAGE = "/console/account"


@router.get(PAGE, response_class=HTMLResponse)
async def account(request: Request, user: ConsoleUserDep, sessions: SessionsDep) -> HTMLResponse:
    active = await sessions.active(user.user_id)
    return render(request, "account/index.html", {"sessions": active}, user=user)


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
