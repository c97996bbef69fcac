"""Every async test of test_transport_call_options.py runs on the default asyncio loop and
on uvloop (the gateway's loop): TLS over a proxy tunnel uses ``loop.start_tls``, which the
two implement apart. The hook answers for every test below this folder, so the others get
the one default loop they would get without it (a single factory adds no test id)."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Mapping

import pytest
import uvloop

BOTH_LOOPS = frozenset({"test_transport_call_options.py"})


def pytest_asyncio_loop_factories(
    config: pytest.Config, item: pytest.Item
) -> Mapping[str, Callable[[], asyncio.AbstractEventLoop]]:
    if item.path.name in BOTH_LOOPS:
        return {"asyncio": asyncio.new_event_loop, "uvloop": uvloop.new_event_loop}
    return {"asyncio": asyncio.new_event_loop}
