"""Control-plane error handling: every ``/api/v1/*`` error in the platform envelope."""

from __future__ import annotations

import logging

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException

from relaygate.core.envelope import error_envelope
from relaygate.core.errors import (
    AuthenticationFailed,
    InvalidRequest,
    NotFound,
    RelaygateError,
)

__all__ = ["CLOSE", "install_error_handlers"]

log = logging.getLogger(__name__)

CLOSE = {"connection": "close"}  # on a 500: the server closes the connection after it
_PLACES = ("body", "path", "query", "header", "cookie")


def _render(err: RelaygateError) -> JSONResponse:
    return JSONResponse(error_envelope(err), status_code=err.status, headers=err.headers)


async def _relaygate_error(_: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RelaygateError)
    return _render(exc)


async def _validation_error(_: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
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
    return _render(InvalidRequest(message, param=where or None))


async def _http_error(_: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, HTTPException)
    if exc.status_code == 404:
        return _render(NotFound("Not found."))
    if exc.status_code == 401:
        return _render(AuthenticationFailed(str(exc.detail)))
    err = RelaygateError(str(exc.detail))
    body = {
        **error_envelope(err),
        "statusCode": exc.status_code,
        "errorType": "invalid_request_error",
    }
    return JSONResponse(body, status_code=exc.status_code)


async def _unexpected(request: Request, exc: Exception) -> JSONResponse:
    """The top-level handler: log the bug, answer in the route's format, keep the worker
    alive. The answer says ``Connection: close``: Starlette re-raises the error after this
    response and the server then drops the connection, so a client that kept it alive
    must not send its next request on it (it would fail too). The OpenAI routes the
    control plane serves (``/v1/...``: stored responses, conversations) get OpenAI's
    error object, every other route the platform envelope."""
    log.error("unhandled error on %s %s", request.method, request.url.path, exc_info=exc)
    err = RelaygateError("The server had an error processing your request.")
    if request.url.path.startswith("/v1/"):
        body: dict[str, object] = {
            "error": {"message": err.message, "type": err.type, "param": None, "code": None}
        }
    else:
        body = error_envelope(err)
    return JSONResponse(body, status_code=err.status, headers=CLOSE)


def install_error_handlers(app: FastAPI) -> None:
    app.add_exception_handler(Exception, _unexpected)
    app.add_exception_handler(RelaygateError, _relaygate_error)
    app.add_exception_handler(RequestValidationError, _validation_error)
    app.add_exception_handler(HTTPException, _http_error)
