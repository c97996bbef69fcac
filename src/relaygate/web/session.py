"""The console's cookie and the dependencies every page declares.

The cookie ``rg_session`` holds the opaque session id (accounts/sessions.py keeps its
digest): HttpOnly (no script reads it), SameSite=Lax (a cross-site form POST does not
carry it), Secure on https or when ``session_cookie_secure`` says the gateway sits behind
a TLS proxy, Path=/ (the platform API under ``/api/v1/user`` accepts it too).

* ``ConsoleUserDep``: the signed-in user, or a 303 to ``/console/login?next=<this page>``.
* ``ConsoleOperatorDep``: the same for operators; anyone else gets the 404 page, so the
  operator pages do not reveal that they exist.
* ``SameOriginDep``: for the sign-in forms' POSTs (no session yet): cross-site is a 403.
* ``CsrfDep``: for POST handlers: the signed-in user whose request carries the session's
  CSRF token (form field ``csrf_token`` or header ``X-CSRF-Token``), else the 403 page.
* ``OperatorCsrfDep``: the operator pages' POST handlers: the 404 page for a non-operator,
  then the CSRF check.
"""

from __future__ import annotations

from typing import Annotated
from urllib.parse import quote, urlsplit

from fastapi import Depends, Request
from fastapi.responses import Response

from relaygate.accounts.sessions import (
    COOKIE,
    CSRF_FIELD,
    CSRF_HEADER,
    ActiveSession,
    SessionClient,
    csrf_matches,
)
from relaygate.core.errors import NotFound, PermissionDenied
from relaygate.services import SessionsDep
from relaygate.web.forms import page_form
from relaygate.web.i18n import N_

__all__ = [
    "COOKIE",
    "CSRF_REFUSED",
    "ConsoleOperatorDep",
    "ConsoleUserDep",
    "CsrfDep",
    "MaybeUserDep",
    "OperatorCsrfDep",
    "SameOriginDep",
    "SignInRequired",
    "clear_session_cookie",
    "client_of",
    "safe_next",
    "set_session_cookie",
]

LOGIN = "/console/login"
CSRF_REFUSED = N_("This form has expired or did not come from this site.")
HOME = "/console/"


class SignInRequired(Exception):
    """Raised by ``ConsoleUserDep``; app.py answers it with a 303 to ``location``."""

    def __init__(self, location: str) -> None:
        super().__init__(location)
        self.location = location


def safe_next(target: str | None, default: str = HOME) -> str:
    """``target`` when it is a path on this site, else ``default`` (no open redirect:
    ``//evil.example`` and ``https://...`` are refused, so are backslashes)."""
    if not target or not target.startswith("/") or target.startswith("//") or "\\" in target:
        return default
    return target


def client_of(request: Request) -> SessionClient:
    """What the session list shows (the address as the server sees it: behind a proxy,
    ``trust_proxy_headers`` makes it the client's)."""
    host = request.client.host if request.client else ""
    return SessionClient(request.headers.get("user-agent", ""), host)


def _secure(request: Request, sessions: SessionsDep) -> bool:
    return request.url.scheme == "https" or sessions.cookie_secure


def set_session_cookie(
    response: Response, request: Request, sessions: SessionsDep, token: str
) -> None:
    response.set_cookie(
        COOKIE,
        token,
        max_age=int(sessions.ttl.total_seconds()),
        path="/",
        secure=_secure(request, sessions),
        httponly=True,
        samesite="lax",
    )


def clear_session_cookie(response: Response, request: Request, sessions: SessionsDep) -> None:
    response.delete_cookie(
        COOKIE, path="/", secure=_secure(request, sessions), httponly=True, samesite="lax"
    )


async def same_origin(request: Request) -> None:
    """Refuse a cross-site POST to the sign-in forms, which have no session to hold a CSRF
    token yet: otherwise a foreign page could sign a visitor into the attacker's account
    with the attacker's link (login CSRF). Browsers say where a form came from in
    ``Sec-Fetch-Site`` and ``Origin``; a client that sends neither is not a browser."""
    if request.headers.get("sec-fetch-site") == "cross-site":
        raise PermissionDenied(CSRF_REFUSED)
    origin = request.headers.get("origin")
    if origin and origin != "null" and urlsplit(origin).netloc != request.headers.get("host"):
        raise PermissionDenied(CSRF_REFUSED)


SameOriginDep = Depends(same_origin)


async def maybe_user(request: Request, sessions: SessionsDep) -> ActiveSession | None:
    return await sessions.resolve(request.cookies.get(COOKIE))


MaybeUserDep = Annotated[ActiveSession | None, Depends(maybe_user)]


async def console_user(request: Request, user: MaybeUserDep) -> ActiveSession:
    if user is None:
        here = request.url.path + (f"?{request.url.query}" if request.url.query else "")
        raise SignInRequired(f"{LOGIN}?next={quote(here, safe='/')}")
    return user


ConsoleUserDep = Annotated[ActiveSession, Depends(console_user)]


async def console_operator(user: ConsoleUserDep) -> ActiveSession:
    if not user.is_operator:
        raise NotFound("Not found.")
    return user


ConsoleOperatorDep = Annotated[ActiveSession, Depends(console_operator)]


async def checked_csrf(request: Request, user: ConsoleUserDep) -> ActiveSession:
    presented = request.headers.get(CSRF_HEADER)
    if presented is None:
        presented = str((await page_form(request)).get(CSRF_FIELD, ""))
    if not csrf_matches(user, presented):
        raise PermissionDenied(CSRF_REFUSED)
    return user


CsrfDep = Annotated[ActiveSession, Depends(checked_csrf)]


# ---------------------------------------------------------------- operator forms
async def checked_operator_csrf(request: Request, user: ConsoleOperatorDep) -> ActiveSession:
    """An operator page's POST: the 404 page for anyone who is not an operator (before the
    CSRF check, so a form does not reveal the page exists), then the CSRF token."""
    return await checked_csrf(request, user)


OperatorCsrfDep = Annotated[ActiveSession, Depends(checked_operator_csrf)]
