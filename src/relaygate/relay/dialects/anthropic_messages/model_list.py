"""``GET /v1/models`` in Anthropic's shape: ``{"data": [{"type": "model", "id",
"display_name", "created_at"}], "has_more", "first_id", "last_id"}`` with ``limit`` /
``after_id`` / ``before_id`` paging, which the anthropic SDK's list iterator follows."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any
from urllib.parse import parse_qs

from relaygate.core.errors import InvalidRequest

__all__ = ["model_entry", "model_list"]

_DEFAULT_LIMIT, _MAX_LIMIT = 20, 1000


def model_entry(model_id: str, created: int) -> dict[str, Any]:
    stamp = datetime.fromtimestamp(created, UTC).isoformat().replace("+00:00", "Z")
    return {"type": "model", "id": model_id, "display_name": model_id, "created_at": stamp}


def model_list(models: list[tuple[str, int]], query: bytes) -> dict[str, Any]:
    """One page of the (id, created) pairs, as the query string's paging asks."""
    params = parse_qs(query.decode("latin-1"))
    raw_limit = params.get("limit", [str(_DEFAULT_LIMIT)])[0]
    if not raw_limit.isdigit() or not 1 <= int(raw_limit) <= _MAX_LIMIT:
        raise InvalidRequest(f"limit: must be an integer from 1 to {_MAX_LIMIT}", param="limit")
    limit = int(raw_limit)
    ids = [m for m, _ in models]
    start, stop = 0, len(models)
    if "after_id" in params and params["after_id"][0] in ids:
        start = ids.index(params["after_id"][0]) + 1
    if "before_id" in params and params["before_id"][0] in ids:
        stop = ids.index(params["before_id"][0])
        start = max(start, stop - limit)
    chosen = models[start:stop][:limit]
    data = [model_entry(m, c) for m, c in chosen]
    return {
        "data": data,
        "has_more": start + len(chosen) < stop,
        "first_id": data[0]["id"] if data else None,
        "last_id": data[-1]["id"] if data else None,
    }
