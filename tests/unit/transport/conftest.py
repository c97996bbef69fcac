"""Every async test here runs on the default asyncio loop and on uvloop (the gateway's
loop): TLS over a proxy tunnel uses ``loop.start_tls``, which the two implement apart."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Mapping

import pytest
import uvloop


def pytest_asyncio_loop_factories(
    config: pytest.Config, item: pytest.Item
) -> Mapping[str, Callable[[], asyncio.AbstractEventLoop]]:
    return {"asyncio": asyncio.new_event_loop, "uvloop": uvloop.new_event_loop}
