"""A console form's fields: the POST body parsed once (the framework keeps the body, so
the CSRF check and the page handler read the same fields), and its errors by field."""

from __future__ import annotations

from typing import Any
from urllib.parse import parse_qsl

from fastapi import Request
from pydantic import ValidationError

from relaygate.core.forms import parse_body

__all__ = ["FormErrors", "page_form", "page_form_list", "schema_errors"]


class FormErrors(Exception):
    """Field name → message (English, from the schema); shown next to the form."""

    def __init__(self, errors: dict[str, str]) -> None:
        super().__init__(errors)
        self.errors = errors


def schema_errors(err: ValidationError, named: tuple[str, ...] = ()) -> dict[str, str]:
    """Field → message, the first per field; a whole-model check goes on the first of
    ``named`` that its message mentions, else on "form"."""
    errors: dict[str, str] = {}
    for item in err.errors():
        message = str(item["msg"]).removeprefix("Value error, ")
        mentioned = [name for name in named if name in message]
        where = str(item["loc"][0]) if item["loc"] else (mentioned[0] if mentioned else "form")
        errors.setdefault(where, message)
    return errors


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
