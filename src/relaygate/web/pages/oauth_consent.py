"""``/next/v1/oauth``: the consent page of the OAuth open API (platform-api.md §5.2),
and ``/next/v1/oauth/succeed``, which shows a code to paste into an app without a web
callback (§5.3).

Signing in comes first (the console's login, back here after). Every parameter is
checked before anything is shown; a bad client, redirect domain or scope is an error
page, never a redirect (the URI is not verified). Approve and deny are one POST form with
the session's CSRF token; the answer is a 303 to the app's redirect URI."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from relaygate.core.errors import InvalidRequest
from relaygate.oauth.grants import AuthorizeRequest
from relaygate.oauth.records import AppView
from relaygate.oauth.scopes import scope_set
from relaygate.services import OAuthDep
from relaygate.web.forms import page_form
from relaygate.web.i18n import N_
from relaygate.web.oauth_redirect import approved_target, check_template, denied_target
from relaygate.web.render import render
from relaygate.web.session import ConsoleUserDep, CsrfDep, MaybeUserDep

__all__ = ["router"]

router = APIRouter(include_in_schema=False)
PAGE = "/next/v1/oauth"
_FIELDS = (
    "response_type",
    "client_id",
    "redirect_uri",
    "scope",
    "state",
    "redirect_template",
    "code_challenge",
    "code_challenge_method",
)
REFUSED = N_("This authorisation request cannot be used")


@dataclass(frozen=True, slots=True)
class _Asked:
    """The request's parameters, as sent (hidden fields of the consent form)."""

    values: dict[str, str]

    @classmethod
    def of(cls, source: Any) -> _Asked:
        return cls({name: str(source.get(name) or "")[:2000] for name in _FIELDS})

    def request(self) -> AuthorizeRequest:
        v = self.values
        return AuthorizeRequest(
            v["response_type"],
            v["client_id"],
            v["redirect_uri"],
            v["scope"],
            v["code_challenge"],
            v["code_challenge_method"],
        )


async def _checked(oauth: OAuthDep, asked: _Asked) -> tuple[AppView, str]:
    app = await oauth.grants.check(asked.request())
    return app, check_template(asked.values["redirect_template"])


def _refused(request: Request, err: InvalidRequest, user: Any) -> HTMLResponse:
    context = {"title": REFUSED, "detail": err.message, "param": err.param or ""}
    return render(request, "oauth/refused.html", context, user=user, status=400)


@router.get(PAGE, response_class=HTMLResponse)
async def consent(request: Request, user: ConsoleUserDep, oauth: OAuthDep) -> Response:
    asked = _Asked.of(request.query_params)
    try:
        app, _ = await _checked(oauth, asked)
    except InvalidRequest as err:
        return _refused(request, err, user)
    context = {"app": app, "asked": asked.values, "scopes": scope_set(app.scope)}
    return render(request, "oauth/consent.html", context, user=user)


@router.post(PAGE)
async def decide(request: Request, user: CsrfDep, oauth: OAuthDep) -> Response:
    form = await page_form(request)
    asked = _Asked.of(form)
    state = asked.values["state"]
    try:
        app, template = await _checked(oauth, asked)
        if form.get("decision") != "approve":
            target = denied_target(asked.values["redirect_uri"], state, app.redirect_domains)
        else:
            code = await oauth.grants.authorize(user.user_id, asked.request())
            target = approved_target(
                asked.values["redirect_uri"], template, code, state, app.redirect_domains
            )
    except InvalidRequest as err:
        return _refused(request, err, user)
    return RedirectResponse(target, status_code=303)


@router.get(PAGE + "/succeed", response_class=HTMLResponse)
async def succeed(
    request: Request, user: MaybeUserDep, code: str = "", state: str = ""
) -> Response:
    context = {"code": code[:200], "state": state[:200]}
    return render(request, "oauth/succeed.html", context, user=user)
