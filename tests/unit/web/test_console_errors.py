"""Errors on console paths are the HTML error page (what happened, what to do, the request
id); the JSON APIs keep their envelope. Never the exception's text on a 500."""

from __future__ import annotations

import asyncio

from fastapi import Request

from relaygate.web.platform import _unexpected


def _request(path: str, accept_language: str = "") -> Request:
    headers = [(b"accept-language", accept_language.encode())] if accept_language else []
    scope = {
        "type": "http",
        "method": "GET",
        "path": path,
        "query_string": b"",
        "headers": headers,
        "rg.request_id": "req_0123",
    }
    return Request(scope)


def test_an_unexpected_error_on_a_page_is_the_html_page() -> None:
    secret = RuntimeError("database password is hunter2")
    response = asyncio.run(_unexpected(_request("/console/keys"), secret))
    body = bytes(response.body).decode()
    assert response.status_code == 500
    assert response.headers["content-type"].startswith("text/html")
    assert response.headers["connection"] == "close"
    assert "Something went wrong on our side" in body and "req_0123" in body
    assert "hunter2" not in body and "Traceback" not in body


def test_the_page_speaks_the_visitors_language() -> None:
    response = asyncio.run(_unexpected(_request("/console/", "zh-CN"), RuntimeError("x")))
    assert "服务器出了点问题" in bytes(response.body).decode()


def test_the_json_api_keeps_its_envelope() -> None:
    response = asyncio.run(_unexpected(_request("/api/v1/user/invite"), RuntimeError("x")))
    assert response.headers["content-type"].startswith("application/json")
    assert b'"statusCode":500' in bytes(response.body)
