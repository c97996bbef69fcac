"""The schema of a strict structured-output request, in whichever field carries it.

Chat puts ``{"type": "json_schema", "json_schema": {"schema", "strict"}}`` in
``response_format``; Responses puts ``{"type": "json_schema", "schema", "strict"}`` in
``text.format``. Each dialect finds its ``fmt`` and ``spec``; the rule is shared here.
"""

from __future__ import annotations

from typing import Any

__all__ = ["strict_schema_of"]


def strict_schema_of(fmt: Any, spec: Any) -> dict[str, Any] | None:
    """The schema when ``fmt`` asks for a JSON schema and ``spec`` marks it strict."""
    if not isinstance(fmt, dict) or fmt.get("type") != "json_schema":
        return None
    if not isinstance(spec, dict) or spec.get("strict") is not True:
        return None
    schema = spec.get("schema")
    return schema if isinstance(schema, dict) else {"type": "object"}
