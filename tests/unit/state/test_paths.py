"""The relay hands exactly the state routes to the control plane, and all are documented."""

from __future__ import annotations

import pytest
from fastapi.routing import APIRoute

from relaygate.app import create_app
from relaygate.settings import load_settings
from relaygate.state.api import router
from relaygate.state.paths import STATE_ROUTES, serves


def _shape(path: str) -> tuple[str, ...]:
    return tuple("*" if part.startswith("{") else part for part in path[1:].split("/"))


def test_the_table_is_the_router() -> None:
    routed: dict[tuple[str, ...], set[str]] = {}
    for route in router.routes:
        assert isinstance(route, APIRoute)
        routed.setdefault(_shape(route.path), set()).update(route.methods)
    assert routed == {shape: set(methods) for shape, methods in STATE_ROUTES.items()}


@pytest.mark.parametrize(
    ("method", "path", "expected"),
    [
        ("GET", "/v1/responses/resp_1", True),
        ("DELETE", "/v1/responses/resp_1", True),
        ("POST", "/v1/responses/resp_1/cancel", True),
        ("GET", "/v1/responses/resp_1/input_items", True),
        ("POST", "/v1/responses", False),  # created by the relay
        ("POST", "/v1/responses/resp_1", False),
        ("GET", "/v1/responses/", False),
        ("POST", "/v1/conversations", True),
        ("GET", "/v1/conversations", False),
        ("POST", "/v1/conversations/c/items", True),
        ("DELETE", "/v1/conversations/c/items/i", True),
        ("GET", "/v1/conversations/c/items/i/x", False),
        ("PATCH", "/v1/conversations/c", False),
        ("GET", "/v1/chat/completions", True),
        ("POST", "/v1/chat/completions", False),  # created by the relay
        ("POST", "/v1/chat/completions/chatcmpl-1", True),
        ("GET", "/v1/chat/completions/chatcmpl-1/messages", True),
        ("GET", "/v1/conversationsx", False),
        ("GET", "/v1/models", False),
    ],
)
def test_serves(method: str, path: str, expected: bool) -> None:
    assert serves(method, path) is expected


def test_openapi_documents_every_state_route() -> None:
    document = create_app(load_settings()).control.openapi()
    documented = {_shape(path): set(ops) for path, ops in document["paths"].items()}
    for shape, methods in STATE_ROUTES.items():
        assert {m.lower() for m in methods} <= documented.get(shape, set()), shape
    assert {"get", "post"} <= set(document["paths"]["/v1/chat/completions"])  # both kept
    item = document["paths"]["/v1/conversations/{conversation_id}"]["get"]
    assert item["responses"]["404"]["content"]["application/json"]["schema"] == {
        "$ref": "#/components/schemas/OpenAIError"
    }
