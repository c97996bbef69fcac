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

__all__ = ["install_error_handlers"]

log = logging.getLogger(__name__)


def _render(err: RelaygateError) -> JSONResponse:
    return JSONResponse(error_envelope(err), status_code=err.status, headers=err.headers)


async def _relaygate_error(_: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RelaygateError)
    return _render(exc)


async def _validation_error(_: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    first = exc.errors()[0] if exc.errors() else {}
    where = ".".join(str(p) for p in first.get("loc", ()) if p != "body")
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
    """The top-level handler: log the bug, answer in the envelope, keep the worker alive."""
    log.error("unhandled error on %s %s", request.method, request.url.path, exc_info=exc)
    return _render(RelaygateError("The server had an error processing your request."))


def install_error_handlers(app: FastAPI) -> None:
    app.add_exception_handler(Exception, _unexpected)
    app.add_exception_handler(RelaygateError, _relaygate_error)
    app.add_exception_handler(RequestValidationError, _validation_error)
    app.add_exception_handler(HTTPException, _http_error)
