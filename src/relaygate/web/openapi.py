"""The OpenAPI document: the control plane's routes as FastAPI describes them, plus the raw
relay routes it cannot see (relay/openapi.py), made to match what the gateway answers.

One correction applies to every framework route: FastAPI documents a 422
``HTTPValidationError`` for any route with parameters or a body, but Relaygate answers
invalid input with a 400 in the route's own error format (web/platform.py, and
state/api.py for the OpenAI routes), which each route documents itself. The 422 entries
and their schemas are dropped, so the document lists only statuses the gateway gives.
"""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi

from relaygate.relay.openapi import group_paths, group_tags, relay_paths
from relaygate.tools.openapi import tool_paths

__all__ = ["build_openapi"]

_FRAMEWORK_ONLY = ("HTTPValidationError", "ValidationError")


def build_openapi(app: FastAPI) -> dict[str, Any]:
    schema = get_openapi(
        title=app.title, version=app.version, description=app.description, routes=app.routes
    )
    for operations in schema.get("paths", {}).values():
        for operation in operations.values():
            operation.get("responses", {}).pop("422", None)
    paths, schemas, security = relay_paths()
    paths.update(tool_paths())  # the search and speech tools (docs/tools.md)
    for path, operations in schema.get("paths", {}).items():  # GET and POST may share
        paths.setdefault(path, {}).update(operations)
    schema["tags"] = [*_tags_in_order(paths), *group_tags()]  # the groups' copies last
    paths.update(group_paths(paths))  # the route groups serve every /v1 route
    schema["paths"] = paths
    components = schema.setdefault("components", {})
    known = components.setdefault("schemas", {})
    for name in _FRAMEWORK_ONLY:
        known.pop(name, None)
    known.update(schemas)
    components.setdefault("securitySchemes", {}).update(security)
    return schema


def _tags_in_order(paths: dict[str, Any]) -> list[dict[str, str]]:
    """The tags in the order the routes name them: the document lists its tags (for the
    route groups' descriptions), and the docs pages show listed tags first, in order."""
    names: dict[str, None] = {}
    for item in paths.values():
        for operation in item.values():
            if isinstance(operation, dict):
                names.update(dict.fromkeys(operation.get("tags", ())))
    return [{"name": name} for name in names]
