"""A console form's fields: the POST body parsed once (the framework keeps the body, so
the CSRF check and the page handler read the same fields)."""

from __future__ import annotations

from typing import Any
from urllib.parse import parse_qsl

from fastapi import Request

from relaygate.core.forms import parse_body

__all__ = ["page_form", "page_form_list"]


async def page_form(request: Request) -> dict[str, Any]:
    """The urlencoded (or JSON) body as a dict; an empty body is an empty form."""
    body = await request.body()
    if not body:
        return {}
    return parse_body(body, request.headers.get("content-type", ""))


async def page_form_list(request: Request, name: str) -> list[str]:
    """Every value of a repeated field (checkboxes: ``models=a&models=b``), which
    ``page_form`` folds to the last one."""
    body = await request.body()
    if request.headers.get("content-type", "").startswith("application/json"):
        value = parse_body(body, "application/json").get(name)
        return [str(v) for v in value] if isinstance(value, list) else []
    try:
        pairs = parse_qsl(body.decode(), keep_blank_values=True)
    except UnicodeDecodeError:
        return []
    return [value for key, value in pairs if key == name]
