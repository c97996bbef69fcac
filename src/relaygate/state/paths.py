"""Which ``/v1/…`` requests the state routes answer, for the relay's dispatcher. Pure.

The relay answers every other ``/v1/`` path itself (a 404 in the caller's dialect), so
it asks here before handing a request to the control plane. The table must match the
routes of ``state/api.py`` exactly; a test derives one from the other.
"""

from __future__ import annotations

__all__ = ["STATE_ROUTES", "serves"]

# path shape ("*" is one non-empty segment) -> methods
STATE_ROUTES: dict[tuple[str, ...], frozenset[str]] = {
    ("v1", "responses", "*"): frozenset({"GET", "DELETE"}),
    ("v1", "responses", "*", "input_items"): frozenset({"GET"}),
    ("v1", "responses", "*", "cancel"): frozenset({"POST"}),
    ("v1", "conversations"): frozenset({"POST"}),
    ("v1", "conversations", "*"): frozenset({"GET", "POST", "DELETE"}),
    ("v1", "conversations", "*", "items"): frozenset({"GET", "POST"}),
    ("v1", "conversations", "*", "items", "*"): frozenset({"GET", "DELETE"}),
    ("v1", "chat", "completions"): frozenset({"GET"}),
    ("v1", "chat", "completions", "*"): frozenset({"GET", "POST", "DELETE"}),
    ("v1", "chat", "completions", "*", "messages"): frozenset({"GET"}),
}
_PREFIXES = ("/v1/responses/", "/v1/conversations", "/v1/chat/completions")


def serves(method: str, path: str) -> bool:
    """Whether ``method path`` is a state route (``POST /v1/responses`` is not: the relay
    creates responses)."""
    if not path.startswith(_PREFIXES):
        return False
    parts = tuple(path[1:].split("/"))
    for shape, methods in STATE_ROUTES.items():
        if len(shape) == len(parts) and all(
            part if want == "*" else part == want for want, part in zip(shape, parts, strict=True)
        ):
            return method in methods
    return False
