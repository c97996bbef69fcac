"""The console's error page: what happened and what to do, with the request id.

Errors on console paths (``/console/...``, ``/i/...``) are answered as HTML by the one
control-plane handler (web/platform.py), which asks :func:`console_error_page` for them;
the JSON APIs keep their formats. Never a stack trace, never raw JSON.
"""

from __future__ import annotations

from dataclasses import dataclass

from fastapi import Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from relaygate.web.i18n import N_
from relaygate.web.render import render
from relaygate.web.session import SignInRequired

__all__ = ["console_error_page", "sign_in_required"]


@dataclass(frozen=True, slots=True)
class _Advice:
    title: str  # msgids
    advice: str


_ADVICE = {
    400: _Advice(
        N_("Something in the request was not right"), N_("Go back, check the form and try again.")
    ),
    403: _Advice(
        N_("This action was refused"),
        N_("The form may have expired: reload the page and try again."),
    ),
    404: _Advice(
        N_("Page not found"),
        N_("The address may be mistyped, or the page no longer exists."),
    ),
    500: _Advice(
        N_("Something went wrong on our side"),
        N_("Try again in a moment. If it keeps happening, send the request id to support."),
    ),
}


def console_error_page(request: Request, status: int, message: str = "") -> HTMLResponse:
    """The page for ``status``; ``message`` (the error's own text) is shown for 4xx only."""
    advice = _ADVICE.get(status) or _ADVICE[500 if status >= 500 else 400]
    detail = message if 400 <= status < 500 and status not in (404,) else ""
    context = {"status": status, "title": advice.title, "advice": advice.advice, "detail": detail}
    return render(request, "errors/error.html", context, status=status)


async def sign_in_required(_: Request, exc: Exception) -> Response:
    assert isinstance(exc, SignInRequired)
    return RedirectResponse(exc.location, status_code=303)
