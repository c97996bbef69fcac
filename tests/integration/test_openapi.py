"""The OpenAPI document lists the relay and operator routes."""

from __future__ import annotations

import httpx

from tests.harness import Gateway

RELAY = ["/v1/chat/completions", "/v1/completions", "/v1/embeddings", "/v1/models"]
OPERATOR = [
    "/api/v1/operator/channels",
    "/api/v1/operator/channels/{channel_id}",
    "/api/v1/operator/users",
    "/api/v1/operator/users/{user_id}/keys",
    "/api/v1/operator/keys/{key_id}",
    "/api/v1/operator/usage",
]


def test_openapi_lists_routes(sqlite_gateway: Gateway) -> None:
    response = httpx.get(sqlite_gateway.url + "/openapi.json", timeout=30)
    assert response.status_code == 200
    document = response.json()
    assert document["openapi"].startswith("3.")
    paths = document["paths"]
    for path in RELAY + OPERATOR:
        assert path in paths, (path, sorted(paths))
    assert "post" in paths["/v1/chat/completions"]
    assert "get" in paths["/v1/models"]
    assert {"get", "post"} <= set(paths["/api/v1/operator/channels"])
    assert any(p.startswith("/v1/models/") for p in paths)


def test_every_relay_route_is_documented(sqlite_gateway: Gateway) -> None:
    """Derived from the relay's own routing table, so a new route cannot go undocumented;
    each route group lists every /v1 path again, with the same methods."""
    from relaygate.relay.api import _POSTS
    from relaygate.relay.groups import ROUTE_GROUPS

    paths = httpx.get(sqlite_gateway.url + "/openapi.json", timeout=30).json()["paths"]
    for path in _POSTS:
        assert "post" in paths.get(path, {}), path
    v1 = {path: set(item) for path, item in paths.items() if path.startswith("/v1/")}
    for prefix in ROUTE_GROUPS.values():
        assert "get" in paths[prefix + "/models"]
        for path, methods in v1.items():
            assert set(paths.get(prefix + path, {})) == methods, prefix + path
