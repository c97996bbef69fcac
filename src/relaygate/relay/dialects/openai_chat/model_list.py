"""``GET /v1/models`` in OpenAI's shape (also what Responses callers read):
``{"object": "list", "data": [{"id", "object": "model", "created", "owned_by"}]}``."""

from __future__ import annotations

from typing import Any

__all__ = ["model_entry", "model_list"]


def model_entry(model_id: str, created: int) -> dict[str, Any]:
    return {"id": model_id, "object": "model", "created": created, "owned_by": "relaygate"}


def model_list(models: list[tuple[str, int]], query: bytes) -> dict[str, Any]:
    """Every model at once: OpenAI's list has no paging."""
    return {"object": "list", "data": [model_entry(m, c) for m, c in models]}
