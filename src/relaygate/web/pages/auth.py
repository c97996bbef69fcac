"""Signing in and out of the console by magic link.

* ``GET /console/login`` (``?next=``, ``?invite=`` carried): the email form.
  ``POST`` sends the link through the same throttled call as ``POST /api/v1/auth/login``
  and always lands on ``/console/login/sent``, whether or not the address has an account.
* ``GET /console/auth?token=``: a one-click confirm form; only its ``POST`` consumes the
  token, so a mail scanner that fetches links does not burn them. The POST opens a new
  session (the presented cookie's session ends: no fixation), sets the cookie and goes to
  the ``next`` the login form was given (kept in a short-lived cookie) or the dashboard.
* ``POST /console/logout`` (CSRF): ends the session and clears the cookie.
* ``GET /console/lang?to=zh&next=``: the language switch (a preference cookie).
"""

from __future__ import annotations

from urllib.parse import urlencode

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from relaygate.accounts.sessions import COOKIE
from relaygate.core.errors import InvalidRequest
from relaygate.services import SessionsDep, SignupDep
from relaygate.web.forms import page_form
from relaygate.web.i18n import LANG_COOKIE, LOCALES, N_
from relaygate.web.render import locale_of, render
from relaygate.web.session import (
    CsrfDep,
    MaybeUserDep,
    SameOriginDep,
    clear_session_cookie,
    client_of,
    safe_next,
    set_session_cookie,
)

__all__ = ["router"]

router = APIRouter(include_in_schema=False)

NEXT_COOKIE = "rg_next"
_NEXT_SECONDS = 3600
_YEAR = 365 * 24 * 3600
BAD_EMAIL = N_("Enter an email address, such as name@example.com.")
BAD_INVITE = N_("This invitation code is not known. Check the link you were given.")
BAD_LINK = N_("This sign-in link is invalid, already used or expired. Ask for a new one.")


def _redirect(location: str) -> RedirectResponse:
    return RedirectResponse(location, status_code=303)


@router.get("/console/login", response_class=HTMLResponse)
async def login_form(
    request: Request, user: MaybeUserDep, next: str = "", invite: str = ""
) -> Response:
    if user is not None:
        return _redirect(safe_next(next))
    context = {"next": safe_next(next, ""), "invite": invite[:16], "email": "", "error": ""}
    return render(request, "auth/login.html", context)


@router.post("/console/login", response_class=HTMLResponse, dependencies=[SameOriginDep])
async def login_send(request: Request, svc: SignupDep) -> Response:
    form = await page_form(request)
    email, invite = str(form.get("email", "")).strip(), str(form.get("invite", "")).strip()
    target = safe_next(str(form.get("next", "")), "")
    try:
        # the same service call as /api/v1/auth/login: the same limits and the same silence
        client_ip = request.client.host if request.client else None
        await svc.request_login(
            email, invite or None, locale=locale_of(request), client_ip=client_ip
        )
    except InvalidRequest as exc:
        error = BAD_INVITE if exc.param == "invite_code" else BAD_EMAIL
        context = {"next": target, "invite": invite[:16], "email": email[:320], "error": error}
        return render(request, "auth/login.html", context, status=400)
    response = _redirect("/console/login/sent?" + urlencode({"email": email[:320]}))
    if target:
        response.set_cookie(
            NEXT_COOKIE,
            target,
            max_age=_NEXT_SECONDS,
            path="/console",
            httponly=True,
            samesite="lax",
        )
    return response


@router.get("/console/login/sent", response_class=HTMLResponse)
async def login_sent(request: Request, email: str = "") -> HTMLResponse:
    return render(request, "auth/sent.html", {"email": email[:320]})


@router.get("/console/auth", response_class=HTMLResponse)
async def confirm_form(request: Request, token: str = "") -> HTMLResponse:
    return render(request, "auth/confirm.html", {"token": token[:200], "error": ""})


@router.post("/console/auth", response_class=HTMLResponse, dependencies=[SameOriginDep])
async def confirm(request: Request, svc: SignupDep, sessions: SessionsDep) -> Response:
    form = await page_form(request)
    token = str(form.get("token", ""))[:200]
    try:
        done = await svc.verify(token, client_of(request), replacing=request.cookies.get(COOKIE))
    except InvalidRequest:
        return render(request, "auth/confirm.html", {"token": "", "error": BAD_LINK}, status=400)
    response = _redirect(safe_next(request.cookies.get(NEXT_COOKIE)))
    set_session_cookie(response, request, sessions, done.session_token)
    if NEXT_COOKIE in request.cookies:
        response.delete_cookie(NEXT_COOKIE, path="/console")
    return response


@router.post("/console/logout")
async def logout(request: Request, _: CsrfDep, sessions: SessionsDep) -> Response:
    await sessions.end(request.cookies.get(COOKIE))
    response = _redirect("/console/login")
    clear_session_cookie(response, request, sessions)
    return response


@router.get("/console/lang")
async def switch_language(to: str = "", next: str = "") -> Response:
    response = _redirect(safe_next(next))
    if to in LOCALES:
        response.set_cookie(LANG_COOKIE, to, max_age=_YEAR, path="/", samesite="lax")
    return response
