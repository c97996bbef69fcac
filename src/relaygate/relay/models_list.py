"""The model list (``GET /v1/models``, ``GET /v1/models/{id}``) in the caller's dialect.

The shapes are the dialects' own (``Dialect.model_entry`` / ``model_list``); what is
shared is which models the key sees and the 404 for one it does not.
"""

from __future__ import annotations

from typing import Any

from relaygate.core.errors import NotFound
from relaygate.relay.dialects.record import Dialect

__all__ = ["model_list"]


def model_list(
    visible: list[tuple[str, int]], dialect: Dialect, wanted: str | None, query: bytes
) -> dict[str, Any]:
    """The list (``wanted`` None) or one model, of the (id, created) pairs the key sees."""
    if wanted is not None:
        for model_id, created in visible:
            if model_id == wanted:
                return dialect.model_entry(model_id, created)
        raise NotFound(
            f"The model '{wanted}' does not exist", param="model", code="model_not_found"
        )
    return dialect.model_list(visible, query)
