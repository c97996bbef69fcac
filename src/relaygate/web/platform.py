"""Control-plane error handling: every ``/api/v1/*`` error in the platform envelope, and
the console's HTML error page on console paths (web/console_errors.py)."""

from __future__ import annotations

import functools
import logging

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import Response
from starlette.exceptions import HTTPException

from relaygate.core.error_formats import ErrorAnswer, render_error
from relaygate.core.errors import (
    AuthenticationFailed,
    ClientError,
    InvalidRequest,
    NotFound,
    RelaygateError,
)
from relaygate.web.console_errors import console_error_page, sign_in_required
from relaygate.web.session import SignInRequired

__all__ = ["install_error_handlers"]

log = logging.getLogger(__name__)

_PLACES = ("body", "path", "query", "header", "cookie")


def _response(answer: ErrorAnswer) -> Response:
    headers = dict(answer.headers)
    return Response(answer.body, answer.status, headers, media_type=answer.content_type)


def _render(err: RelaygateError) -> Response:
    return _response(render_error("platform", err))


def _is_page(request: Request) -> bool:
    """Console pages answer errors with the HTML error page (the JSON APIs never)."""
    path = request.url.path
    return path.startswith(("/console/", "/i/", "/next/")) or path == "/console"


async def _relaygate_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, RelaygateError)
    if _is_page(request):
        return console_error_page(request, exc.status, exc.message)
    return _render(exc)


async def _validation_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, RequestValidationError)
    if _is_page(request):  # a page's bad parameter is the 400 page, never JSON
        return console_error_page(request, 400)
    first = exc.errors()[0] if exc.errors() else {}
    loc = tuple(first.get("loc", ()))
    if len(loc) > 1 and loc[0] in _PLACES:  # name the field itself, not where it was sent
        loc = loc[1:]
    where = ".".join(str(p) for p in loc)  # "body" alone: the body itself is missing or wrong
    message = (
        f"{where}: {first.get('msg', 'invalid value')}"
        if where
        else str(first.get("msg", "invalid request"))
    )
    if _is_page(request):  # e.g. a console URL with an id out of range: the error page
        return console_error_page(request, 400, message)
    return _render(InvalidRequest(message, param=where or None))


@functools.cache
def _refusal(status: int) -> type[ClientError]:
    """The client error of a status the framework refused a request with (405 and the
    like): one class per status, so the renderer sees a status like any other."""
    return type(f"Refused{status}", (ClientError,), {"status": status})


async def _http_error(request: Request, exc: Exception) -> Response:
    """The framework's own refusals (no such route, wrong method), in the envelope; their
    headers (a 405's ``allow``) are not passed on."""
    assert isinstance(exc, HTTPException)
    if _is_page(request):
        return console_error_page(request, exc.status_code)
    if exc.status_code == 404:
        return _render(NotFound("Not found."))
    if exc.status_code == 401:
        return _render(AuthenticationFailed(str(exc.detail)))
    return _render(_refusal(exc.status_code)(str(exc.detail)))


async def _unexpected(request: Request, exc: Exception) -> Response:
    """The top-level handler: log the bug, answer in the route's format, keep the worker
    alive. The answer says ``Connection: close``: Starlette re-raises the error after this
    response and the server then drops the connection, so a client that kept it alive
    must not send its next request on it (it would fail too). The OpenAI routes the
    control plane serves (``/v1/...``: stored responses, conversations) get OpenAI's
    error object, every other route the platform envelope."""
    log.error("unhandled error on %s %s", request.method, request.url.path, exc_info=exc)
    if _is_page(request):
        page = console_error_page(request, 500)
        page.headers["connection"] = "close"
        return page
    err = RelaygateError("The server had an error processing your request.")
    answer = render_error("openai" if request.url.path.startswith("/v1/") else "platform", err)
    return _response(answer.closing())


def install_error_handlers(app: FastAPI) -> None:
    app.add_exception_handler(Exception, _unexpected)
    app.add_exception_handler(RelaygateError, _relaygate_error)
    app.add_exception_handler(RequestValidationError, _validation_error)
    app.add_exception_handler(HTTPException, _http_error)
    app.add_exception_handler(SignInRequired, sign_in_required)
