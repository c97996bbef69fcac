"""Routes of email sign-in and invite codes (the platform envelope throughout).

* ``POST /api/v1/auth/login`` ``{email, invite_code?, locale?}``: always the same 200 for a
  well-formed address, so the route never tells who has an account; links past the
  limits per mailbox and per client IP (``signup.LoginLimits``) are dropped silently, and
  a disabled account is sent none (docs/sign-in.md). The mail is in ``locale`` (``en``,
  ``zh``), else in the first of them the ``Accept-Language`` header names.
* ``GET|POST /api/v1/auth/verify?token=``: consumes the link, returns a session token.
  (The mailed link opens the console's confirm page, which POSTs; the GET stays for
  API clients.)
* ``GET /api/v1/user/invite`` (management key): the caller's code and share links.
* ``/i/{code}``, the short share link, is the console's invitation page
  (web/pages/invite_landing.py).
* ``GET /api/v1/operator/outbox?email=`` (operator): the last links the log mailer sent to
  an address, for operators without SMTP and for the integration tests.
"""

from __future__ import annotations

import logging
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request

from relaygate.accounts.api import OPERATOR_ERRORS, OperatorDep
from relaygate.accounts.mail_text import LOCALES, pick_locale
from relaygate.accounts.signup import (
    SignupService,
    Verified,
    normalise_email,
)
from relaygate.accounts.user_api import MANAGER_ERRORS, ManagerDep
from relaygate.core.envelope import envelope, error_responses, refused_when
from relaygate.core.forms import form_body, parse_body
from relaygate.services import SignupDep

__all__ = ["EMAIL", "INVITE_CODE", "VERIFIED", "router", "signed_in"]

log = logging.getLogger(__name__)

# The address normalise_email accepts (a local part, "@", a dotted domain), said narrowly.
EMAIL: dict[str, Any] = {
    "type": "string",
    "maxLength": 254,
    "pattern": "^[A-Za-z0-9._%+-]{1,64}@[A-Za-z0-9-]{1,63}(\\.[A-Za-z0-9-]{1,63}){1,4}$",
    "description": "An email address.",
}
INVITE_CODE: dict[str, Any] = {
    "type": "string",
    "pattern": "^[A-Za-z0-9]{8}$",
    "description": "An invite code (8 letters and digits); an unknown code is a 400.",
}
_LOCALE: dict[str, Any] = {
    "type": "string",
    "enum": sorted(LOCALES),
    "description": "The mail's language; default: from Accept-Language, else English.",
}
_LOGIN_BODY = form_body(
    {"email": EMAIL, "invite_code": INVITE_CODE, "locale": _LOCALE}, required=("email",)
)
_VERIFY_BODY = form_body({"token": {"type": "string", "maxLength": 200}})


router = APIRouter(tags=["accounts: sign-in and invites"])


async def _body(request: Request) -> dict[str, Any]:
    return parse_body(await request.body(), request.headers.get("content-type", ""))


@router.post(
    "/api/v1/auth/login",
    summary="Mail a sign-in link",
    openapi_extra=_LOGIN_BODY,
    responses={**error_responses(500), **refused_when("an invite code nobody has")},
)
async def login(request: Request, svc: SignupDep) -> dict[str, Any]:
    body = await _body(request)
    email = str(body.get("email") or "")
    code = str(body.get("invite_code") or "").strip() or None
    locale = pick_locale(str(body.get("locale") or ""), request.headers.get("accept-language", ""))
    # the socket peer, which uvicorn sets from X-Forwarded-For only for a trusted proxy
    client_ip = request.client.host if request.client else None
    await svc.request_login(email, code, locale=locale, client_ip=client_ip)
    return envelope(None, "If the address can sign in, a link is on its way.")


# 400: an unknown, used or expired link; 403: the account is disabled
_VERIFY_ERRORS = {
    **error_responses(403, 500),
    **refused_when("a link that is unknown, used or expired"),
}


@router.get("/api/v1/auth/verify", summary="Sign in with a mailed link", responses=_VERIFY_ERRORS)
async def verify_get(svc: SignupDep, token: str = "") -> dict[str, Any]:
    return await _verify(svc, token)


@router.post(
    "/api/v1/auth/verify",
    summary="Sign in with a mailed link (POST)",
    openapi_extra=_VERIFY_BODY,
    responses=_VERIFY_ERRORS,
)
async def verify_post(request: Request, svc: SignupDep, token: str = "") -> dict[str, Any]:
    body = await _body(request)
    return await _verify(svc, str(body.get("token") or token))


async def _verify(svc: SignupService, token: str) -> dict[str, Any]:
    return signed_in(await svc.verify(token))


VERIFIED = "Signed in"


def signed_in(done: Verified) -> dict[str, Any]:
    """The answer of every sign-in route (a mailed link, a passkey): the same shape."""
    data = {
        "user_id": done.user_id,
        "email": done.email,
        "session_token": done.session_token,
        "is_new": done.is_new,
    }
    return envelope(data, VERIFIED)


@router.get("/api/v1/user/invite", summary="Your invite code and links", responses=MANAGER_ERRORS)
async def my_invite(principal: ManagerDep, svc: SignupDep) -> dict[str, Any]:
    invite = await svc.invite(principal.user_id)
    base = svc.public_base
    data = {
        "code": invite.code,
        "link": f"{base}/i/{invite.code}",
        "aff_link": f"{base}/?aff={invite.code}",
        "invited": invite.invited,
    }
    return envelope(data)


# Documented, not enforced by the framework: normalise_email checks the address, the same
# check sign-in makes, so any address that can sign in can be looked up.
_EMAIL_QUERY: dict[str, Any] = {
    "description": EMAIL["description"],
    "json_schema_extra": {"maxLength": EMAIL["maxLength"], "pattern": EMAIL["pattern"]},
}


@router.get(
    "/api/v1/operator/outbox",
    summary="Links the log mailer sent (operators, tests)",
    responses=OPERATOR_ERRORS,
)
async def outbox(
    _: OperatorDep,
    svc: SignupDep,
    email: Annotated[str, Query(**_EMAIL_QUERY)],
) -> dict[str, Any]:
    return envelope(svc.mailer.recent_links(normalise_email(email)))
