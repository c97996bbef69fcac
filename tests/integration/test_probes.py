"""``/livez``, ``/readyz`` and ``/healthz`` on a running gateway, and in the OpenAPI
document (SIGTERM's 503 is in test_graceful_shutdown.py)."""

from __future__ import annotations

import uuid

import httpx

from tests.harness import Gateway, create_pg_database, drop_pg_database, start_gateway


def test_live_and_ready_on_sqlite(sqlite_gateway: Gateway) -> None:
    with httpx.Client(base_url=sqlite_gateway.url, timeout=30) as http:
        live = http.get("/livez")
        ready = http.get("/readyz")
        health = http.get("/healthz")
    assert (live.status_code, live.json()) == (200, {"status": "ok"})
    assert health.status_code == 200 and health.json() == {"status": "ok"}
    assert ready.status_code == 200, ready.text
    assert ready.json() == {
        "status": "ready",
        "checks": {"draining": "no", "database": "ok", "kv": "memory"},
    }


def test_ready_on_postgresql_and_redis() -> None:
    url = create_pg_database()
    try:
        gw = start_gateway(
            url, kv_url="redis://127.0.0.1:6379/0", kv_prefix=f"probe-{uuid.uuid4().hex}:"
        )
        try:
            ready = httpx.get(gw.url + "/readyz", timeout=30)
        finally:
            gw.stop()
    finally:
        drop_pg_database(url)
    assert ready.status_code == 200, ready.text
    assert ready.json()["checks"] == {"draining": "no", "database": "ok", "kv": "ok"}


def test_the_probes_are_documented(sqlite_gateway: Gateway) -> None:
    paths = httpx.get(sqlite_gateway.url + "/openapi.json", timeout=30).json()["paths"]
    assert set(paths["/livez"]["get"]["responses"]) == {"200"}
    ready = paths["/readyz"]["get"]["responses"]
    assert set(ready) == {"200", "503"}
    assert "/healthz" not in paths  # a page route, kept out of the API like the landing page
