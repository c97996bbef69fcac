"""The upstream HTTP client against real sockets: keep-alive reuse, framing, timeouts."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable

import pytest

from relaygate.relay.transport import ConnectFailed, HTTPClient, ProtocolFailed, ReadTimedOut

Handler = Callable[[asyncio.StreamReader, asyncio.StreamWriter], Awaitable[None]]


async def _read_request(reader: asyncio.StreamReader) -> bytes:
    head = await reader.readuntil(b"\r\n\r\n")
    length = 0
    for line in head.split(b"\r\n"):
        if line.lower().startswith(b"content-length:"):
            length = int(line.split(b":")[1])
    return head + await reader.readexactly(length)


class Server:
    def __init__(self, answer: Callable[[int], list[bytes]], close_after: bool = False) -> None:
        self.answer = answer
        self.close_after = close_after
        self.connections = 0
        self.requests: list[bytes] = []
        self.port = 0

    async def handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.connections += 1
        try:
            while True:
                self.requests.append(await _read_request(reader))
                for part in self.answer(len(self.requests)):
                    if part == b"<sleep>":
                        await asyncio.sleep(0.5)
                        continue
                    writer.write(part)
                    await writer.drain()
                if self.close_after:
                    break
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        writer.close()


@pytest.fixture
async def serve() -> AsyncIterator[Callable[[Server], Awaitable[str]]]:
    servers: list[asyncio.Server] = []

    async def start(server: Server) -> str:
        handle = await asyncio.start_server(server.handle, "127.0.0.1", 0)
        servers.append(handle)
        server.port = handle.sockets[0].getsockname()[1]
        return f"http://127.0.0.1:{server.port}/v1/chat/completions"

    yield start
    for handle in servers:
        handle.close()


def _fixed(body: bytes) -> list[bytes]:
    return [
        b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n%s"
        % (len(body), body)
    ]


async def test_sequential_calls_share_one_keep_alive_connection(serve) -> None:  # type: ignore[no-untyped-def]
    server = Server(lambda n: _fixed(b'{"n":%d}' % n))
    url = await serve(server)
    client = HTTPClient(5, 5)
    bodies = [await (await client.post(url, b"X-Test: 1\r\n", b"{}")).read() for _ in range(20)]
    assert bodies == [b'{"n":%d}' % n for n in range(1, 21)]
    assert server.connections == 1
    assert server.requests[0].startswith(b"POST /v1/chat/completions HTTP/1.1\r\n")
    assert b"X-Test: 1\r\n" in server.requests[0] and server.requests[0].endswith(b"\r\n\r\n{}")
    await client.close()


async def test_chunked_body_arrives_decoded_piece_by_piece(serve) -> None:  # type: ignore[no-untyped-def]
    head = (
        b"HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nTransfer-Encoding: chunked\r\n\r\n"
    )
    server = Server(
        lambda n: [head, b"5\r\nhello\r\n", b"<sleep>", b"6\r\n world\r\n", b"0\r\n\r\n"]
    )
    client = HTTPClient(5, 5)
    response = await client.post(await serve(server), b"", b"{}")
    assert response.status == 200 and response.content_type == "text/event-stream"
    pieces = [chunk async for chunk in response.iter_chunks()]
    assert pieces == [b"hello", b" world"]
    response.close()
    await client.close()


async def test_body_delimited_by_connection_close(serve) -> None:  # type: ignore[no-untyped-def]
    server = Server(
        lambda n: [b"HTTP/1.1 200 OK\r\nConnection: close\r\n\r\nuntil eof"], close_after=True
    )
    client = HTTPClient(5, 5)
    url = await serve(server)
    assert await (await client.post(url, b"", b"{}")).read() == b"until eof"
    assert await (await client.post(url, b"", b"{}")).read() == b"until eof"
    assert server.connections == 2
    await client.close()


async def test_a_cut_body_is_an_error_not_a_short_answer(serve) -> None:  # type: ignore[no-untyped-def]
    server = Server(
        lambda n: [b"HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\npartial"], close_after=True
    )
    client = HTTPClient(5, 5)
    response = await client.post(await serve(server), b"", b"{}")
    with pytest.raises(ProtocolFailed):
        await response.read()
    await client.close()


async def test_silence_longer_than_the_read_timeout(serve) -> None:  # type: ignore[no-untyped-def]
    server = Server(lambda n: [b"<sleep>", *_fixed(b"{}")])
    client = HTTPClient(5, 0.2)
    with pytest.raises(ReadTimedOut):
        await client.post(await serve(server), b"", b"{}")
    await client.close()


async def test_a_closed_port_is_a_connect_failure() -> None:
    probe = await asyncio.start_server(lambda r, w: None, "127.0.0.1", 0)
    port = probe.sockets[0].getsockname()[1]
    probe.close()
    await probe.wait_closed()
    client = HTTPClient(1, 1)
    with pytest.raises(ConnectFailed):
        await client.post(f"http://127.0.0.1:{port}/v1/x", b"", b"{}")


async def test_a_pooled_connection_the_server_dropped_is_replaced(serve) -> None:  # type: ignore[no-untyped-def]
    server = Server(lambda n: _fixed(b"ok"), close_after=True)  # answers without Connection: close
    client = HTTPClient(5, 5)
    url = await serve(server)
    for _ in range(3):
        assert await (await client.post(url, b"", b"{}")).read() == b"ok"
        await asyncio.sleep(0.05)  # let the server's close arrive, or not
    assert len(server.requests) == 3
    await client.close()
