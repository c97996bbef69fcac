"""The lifespan's builders pair every start with its stop (relaygate/build.py).

A start that fails half-way (here: a database without its tables, so declaring the
operator fails after the bill writer has started) must leave nothing running behind it.
"""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from sqlalchemy.exc import OperationalError

from relaygate.app import create_app
from relaygate.settings import load_settings


async def test_a_start_that_fails_stops_what_it_started(tmp_path: Path) -> None:
    settings = load_settings(database_url=f"sqlite:///{tmp_path}/x.db", migrate_on_start=False)
    control = create_app(settings).control
    before = asyncio.all_tasks()
    with pytest.raises(OperationalError, match="no such table"):
        async with control.router.lifespan_context(control):
            pass
    assert asyncio.all_tasks() - before == set()


async def test_a_full_start_and_stop_leaves_nothing_running(tmp_path: Path) -> None:
    settings = load_settings(database_url=f"sqlite:///{tmp_path}/x.db", health_probe_interval=60)
    control = create_app(settings).control
    before = asyncio.all_tasks()
    async with control.router.lifespan_context(control) as state:
        assert state is not None and {"services", "relay"} <= set(state)
        assert asyncio.all_tasks() - before  # the writer, ticker, timers and sweeps run
    assert asyncio.all_tasks() - before == set()


def test_passkeys_on_a_loopback_address_are_bound_to_localhost() -> None:
    """Browsers refuse an IP address as the relying party: `make run`'s 127.0.0.1 binds
    passkeys to localhost and accepts both origins; a public URL's host is used as is."""
    from relaygate.build import relying_party

    local = relying_party(load_settings(host="127.0.0.1", port=8080))
    assert local.id == "localhost"
    assert local.origins == ("http://127.0.0.1:8080", "http://localhost:8080")
    public = relying_party(load_settings(public_url="https://ai.example.com"))
    assert (public.id, public.origins) == ("ai.example.com", ("https://ai.example.com",))
    chosen = relying_party(
        load_settings(passkey_rp_id="example.com", passkey_origins=["https://a.example.com"])
    )
    assert (chosen.id, chosen.origins) == ("example.com", ("https://a.example.com",))
