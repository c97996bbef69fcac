"""Shared fixtures: the in-process gateway (SQLite and PostgreSQL) and the fake upstream.

* ``gateway``: one gateway per database for the whole session, parametrised over SQLite
  and PostgreSQL (``postgres`` marker); use it for tests that touch storage.
* ``sqlite_gateway``: the same SQLite gateway, for pure protocol tests.
* ``gateway_factory``: a fresh SQLite gateway with settings overrides (limits, timeouts).
* ``fake``: a fresh scriptable fake OpenAI upstream per test.
* ``smtp``: a real SMTP server (tests/fakes/smtp.py) with STARTTLS and AUTH, as a mail
  provider would run it; ``smtp_gateway``: a fresh SQLite gateway that mails through it.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import httpx
import pytest

from tests.fakes.openai_upstream import FakeOpenAI
from tests.fakes.smtp import FakeSMTP, SMTPSettings
from tests.harness import (
    ADMIN_KEY,
    Gateway,
    IssuedKey,
    create_pg_database,
    drop_pg_database,
    start_gateway,
)

__all__ = ["ADMIN_KEY"]

DATABASES = ["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)]


class GatewayPool:
    """Session-wide gateways, one per database kind, started on first use."""

    def __init__(self, tmp_path_factory: pytest.TempPathFactory) -> None:
        self._tmp = tmp_path_factory
        self._gateways: dict[str, Gateway] = {}
        self._pg_urls: list[str] = []
        self._failed: dict[str, str] = {}

    def get(self, kind: str) -> Gateway:
        if kind in self._failed:  # fail fast instead of retrying a broken start per test
            raise RuntimeError(f"the {kind} gateway failed to start earlier: {self._failed[kind]}")
        if kind not in self._gateways:
            try:
                # every test signs in from 127.0.0.1: no per-IP sign-in limit here
                # (test_sign_in_mail.py checks it on gateways of its own)
                self._gateways[kind] = start_gateway(
                    self.database_url(kind),
                    blob_url=f"file://{self._tmp.mktemp('files')}",
                    login_per_ip_per_minute=0,
                    login_per_ip_per_hour=0,
                    redeem_per_ip_per_minute=0,  # test_redemption.py: its own gateways
                )
            except Exception as exc:
                self._failed[kind] = repr(exc)
                raise
        return self._gateways[kind]

    def database_url(self, kind: str) -> str:
        if kind == "sqlite":
            return f"sqlite:///{self._tmp.mktemp('gw')}/gw.db"
        url = create_pg_database()
        self._pg_urls.append(url)
        return url

    def close(self) -> None:
        for gw in self._gateways.values():
            gw.stop()
        for url in self._pg_urls:
            drop_pg_database(url)


@pytest.fixture(scope="session")
def gateway_pool(tmp_path_factory: pytest.TempPathFactory) -> Iterator[GatewayPool]:
    pool = GatewayPool(tmp_path_factory)
    yield pool
    pool.close()


@pytest.fixture(params=DATABASES)
def gateway(request: pytest.FixtureRequest, gateway_pool: GatewayPool) -> Gateway:
    return gateway_pool.get(request.param)


@pytest.fixture
def sqlite_gateway(gateway_pool: GatewayPool) -> Gateway:
    return gateway_pool.get("sqlite")


@pytest.fixture
def gateway_factory(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Callable[..., Gateway]]:
    """Start extra SQLite gateways with settings overrides; stopped after the test."""
    started: list[Gateway] = []

    def factory(**overrides: Any) -> Gateway:
        url = f"sqlite:///{tmp_path_factory.mktemp('gwx')}/gw.db"
        gw = start_gateway(url, **overrides)
        started.append(gw)
        return gw

    yield factory
    for gw in started:
        gw.stop()


@pytest.fixture
def fake() -> Iterator[FakeOpenAI]:
    with FakeOpenAI() as server:
        yield server


@pytest.fixture
def operator(gateway: Gateway) -> httpx.Client:
    return gateway.operator


@pytest.fixture
def make_user_key(gateway: Gateway) -> Callable[..., IssuedKey]:
    return gateway.make_user_key


@pytest.fixture
def add_channel(gateway: Gateway) -> Callable[..., dict[str, Any]]:
    return gateway.add_channel


@pytest.fixture
def wait_for_usage(gateway: Gateway) -> Callable[..., dict[str, Any]]:
    return gateway.wait_for_usage


@pytest.fixture
def smtp(tmp_path_factory: pytest.TempPathFactory) -> Iterator[FakeSMTP]:
    """A mail server on loopback asking for STARTTLS then AUTH (user ``relay``)."""
    tls_dir = tmp_path_factory.mktemp("smtp")
    with FakeSMTP(tls_dir=tls_dir, user="relay", password="mail-secret") as server:
        yield server


@pytest.fixture
def smtp_gateway(smtp: FakeSMTP, gateway_factory: Callable[..., Gateway]) -> Gateway:
    """A gateway whose sign-in mails go to ``smtp``."""
    return gateway_factory(**SMTPSettings(smtp).overrides())
