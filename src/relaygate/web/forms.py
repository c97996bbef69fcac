"""A console form's fields: the POST body parsed once (the framework keeps the body, so
the CSRF check and the page handler read the same fields)."""

from __future__ import annotations

from typing import Any

from fastapi import Request

from relaygate.core.forms import parse_body

__all__ = ["page_form"]


async def page_form(request: Request) -> dict[str, Any]:
    """The urlencoded (or JSON) body as a dict; an empty body is an empty form."""
    body = await request.body()
    if not body:
        return {}
    return parse_body(body, request.headers.get("content-type", ""))
