"""Ports that fail in a known way, for connect-failure tests on loopback (no network)."""

from __future__ import annotations

import contextlib
import socket
from collections.abc import Iterator

__all__ = ["closed_port", "unaccepting_port"]


def closed_port() -> int:
    """A port nothing listens on: connecting is refused at once."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextlib.contextmanager
def unaccepting_port() -> Iterator[int | None]:
    """A port whose listen queue is full and never accepted, so a new connection's SYN
    is dropped and connecting can only time out. None where the kernel does not behave
    so (the caller fails): Linux holds one connection in a backlog of 0."""
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(0)
    port = int(server.getsockname()[1])
    fillers = []
    full = False
    try:
        for _ in range(16):
            filler = socket.socket()
            filler.settimeout(0.2)
            fillers.append(filler)
            try:
                filler.connect(("127.0.0.1", port))
            except TimeoutError:
                full = True
                break
        yield port if full else None
    finally:
        for sock in (*fillers, server):
            sock.close()
