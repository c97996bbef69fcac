"""Runs the real gateway in-process (uvicorn in a background thread) for integration tests.

The gateway is built exactly as production builds it (``load_settings`` + ``create_app``)
and driven over real HTTP. ``Gateway`` bundles the URL with operator helpers: create
users, issue keys, add channels pointing at a fake upstream, and read usage records.
"""

from __future__ import annotations

import asyncio
import socket
import sys
import threading
import time
import uuid
from collections.abc import Coroutine
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

import httpx
import openai

ROOT = Path(__file__).resolve().parent.parent
try:  # the package is normally installed editable (make install); fall back to src/
    import relaygate  # noqa: F401
except ModuleNotFoundError:  # pragma: no cover - depends on the venv
    sys.path.insert(0, str(ROOT / "src"))

__all__ = [
    "ADMIN_KEY",
    "Gateway",
    "IssuedKey",
    "create_pg_database",
    "drop_pg_database",
    "start_gateway",
]

ADMIN_KEY = "sk-" + ("RelaygateTestAdminKey0123456789" * 2)[:48]
PG_ADMIN_DSN = "postgresql://postgres@127.0.0.1:5432/test"
T = TypeVar("T")


def run_sync(coro: Coroutine[Any, Any, T]) -> T:
    """Run a coroutine to completion in a fresh thread (safe under any running loop)."""
    box: dict[str, Any] = {}

    def target() -> None:
        try:
            box["value"] = asyncio.run(coro)
        except BaseException as exc:  # noqa: BLE001 - re-raised in the caller's thread
            box["error"] = exc

    thread = threading.Thread(target=target)
    thread.start()
    thread.join()
    if "error" in box:
        raise box["error"]
    return box["value"]  # type: ignore[no-any-return]


def create_pg_database() -> str:
    """Create a uniquely named PostgreSQL database and return its URL."""
    import asyncpg

    name = f"relaygate_test_{uuid.uuid4().hex[:12]}"

    async def create() -> None:
        conn = await asyncpg.connect(PG_ADMIN_DSN)
        try:
            await conn.execute(f'CREATE DATABASE "{name}"')
        finally:
            await conn.close()

    run_sync(create())
    return f"postgresql://postgres@127.0.0.1:5432/{name}"


def drop_pg_database(url: str) -> None:
    import asyncpg

    name = url.rsplit("/", 1)[1]

    async def drop() -> None:
        conn = await asyncpg.connect(PG_ADMIN_DSN)
        try:
            await conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        finally:
            await conn.close()

    run_sync(drop())


@dataclass
class IssuedKey:
    key: str
    id: int
    user_id: int
    data: dict[str, Any] = field(default_factory=dict)


@dataclass
class Gateway:
    url: str
    db_url: str
    settings: Any
    operator: httpx.Client
    _server: Any = None
    _thread: threading.Thread | None = None

    # ------------------------------------------------------------ clients
    def openai(self, key: str, **kwargs: Any) -> openai.OpenAI:
        return openai.OpenAI(base_url=self.url + "/v1", api_key=key, max_retries=0, **kwargs)

    def http(self, key: str | None = None, **kwargs: Any) -> httpx.Client:
        headers = {"Authorization": f"Bearer {key}"} if key else {}
        return httpx.Client(base_url=self.url, headers=headers, timeout=30, **kwargs)

    # ------------------------------------------------------------ operator API
    def op(self, method: str, path: str, **kwargs: Any) -> Any:
        """Call an operator route, assert the success envelope and return ``data``."""
        response = self.operator.request(method, path, **kwargs)
        assert response.status_code == 200, (response.status_code, response.text)
        body = response.json()
        assert body["statusCode"] == 200, body
        return body["data"]

    def create_user(self, email: str | None = None, name: str = "") -> dict[str, Any]:
        email = email or f"user-{uuid.uuid4().hex[:10]}@example.test"
        user: dict[str, Any] = self.op("POST", "/users", json={"email": email, "name": name})
        return user

    def credit(self, user_id: int, amount: str, kind: str = "topup") -> dict[str, Any]:
        """Change a user's balance through the operator API (amount in currency units)."""
        body = {"amount": amount, "kind": kind}
        result: dict[str, Any] = self.op("POST", f"/users/{user_id}/credit", json=body)
        return result

    def make_user_key(
        self, permissions: list[str] | None = None, *, user_id: int | None = None, **fields: Any
    ) -> IssuedKey:
        if user_id is None:
            user_id = int(self.create_user()["id"])
            self.credit(user_id, "100")
        data = self.op(
            "POST", f"/users/{user_id}/keys", json={"permissions": permissions, **fields}
        )
        return IssuedKey(key=data["key"], id=int(data["id"]), user_id=user_id, data=data)

    def add_channel(
        self,
        fake: Any,
        models: list[str] | dict[str, str] | None = None,
        *,
        api_key: str | None = None,
        base_url: str | None = None,
        **fields: Any,
    ) -> dict[str, Any]:
        """Create an ``openai`` channel for the fake upstream; models default to a fresh name."""
        suffix = uuid.uuid4().hex[:8]
        body = {
            "name": fields.pop("name", f"fake-{suffix}"),
            "type": "openai",
            "base_url": base_url if base_url is not None else fake.base_url,
            "api_key": api_key or f"sk-channel-{suffix}",
            "models": models if models is not None else [f"fake-model-{suffix}"],
            **fields,
        }
        channel: dict[str, Any] = self.op("POST", "/channels", json=body)
        channel["_api_key"] = body["api_key"]
        return channel

    def usage(self, **params: Any) -> list[dict[str, Any]]:
        records: list[dict[str, Any]] = self.op("GET", "/usage", params=params)
        return records

    def wait_for_records(self, timeout: float = 10.0, **params: Any) -> list[dict[str, Any]]:
        """Poll the usage endpoint until some record matches ``params``."""
        deadline = time.monotonic() + timeout
        while True:
            records = self.usage(**params)
            if records:
                return records
            if time.monotonic() > deadline:
                raise AssertionError(f"no usage record for {params} after {timeout}s")
            time.sleep(0.05)

    def wait_for_usage(self, request_id: str, timeout: float = 10.0) -> dict[str, Any]:
        """Poll the usage endpoint until the (asynchronously written) record appears."""
        records = self.wait_for_records(timeout, request_id=request_id)
        assert len(records) == 1, records
        return records[0]

    # ------------------------------------------------------------ lifecycle
    def stop(self) -> None:
        self.operator.close()
        if self._server is not None:
            self._server.should_exit = True
        if self._thread is not None:
            self._thread.join(60)  # once over 30 s in CI (PostgreSQL + Redis): closing note
            assert not self._thread.is_alive(), "gateway did not shut down"


def start_gateway(database_url: str, **overrides: Any) -> Gateway:
    """Start the gateway in a background thread on a free port and wait until it serves."""
    import uvicorn

    from relaygate.app import create_app
    from relaygate.settings import load_settings

    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    settings = load_settings(
        database_url=database_url,
        bootstrap_admin_key=ADMIN_KEY,
        port=port,
        host="127.0.0.1",
        **overrides,
    )
    app = create_app(settings)
    config = uvicorn.Config(
        app,
        host="127.0.0.1",
        port=port,
        loop="uvloop",
        http="httptools",
        lifespan="on",
        log_level="warning",
        # As ``relaygate serve`` does: the gateway reads proxy headers itself, from the
        # proxies it trusts (web/proxies.py), so the server's own reading stays off.
        proxy_headers=False,
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(
        target=server.run, kwargs={"sockets": [sock]}, name=f"gateway-{port}", daemon=True
    )
    thread.start()
    deadline = time.monotonic() + 60
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            server.should_exit = True
            raise RuntimeError(f"gateway failed to start on {database_url}")
        time.sleep(0.02)
    url = f"http://127.0.0.1:{port}"
    operator = httpx.Client(
        base_url=url + "/api/v1/operator",
        headers={"Authorization": f"Bearer {ADMIN_KEY}"},
        timeout=30,
    )
    return Gateway(url, database_url, settings, operator, server, thread)
