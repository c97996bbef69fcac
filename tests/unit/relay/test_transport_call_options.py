"""Per-call timeouts and proxies of the upstream client, against real sockets (each
async test on both event loops, see conftest.py)."""

from __future__ import annotations

import asyncio
import shutil
import ssl
import subprocess
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from pathlib import Path

import pytest

from relaygate.relay.proxy import CallOptions, Proxy
from relaygate.relay.transport import ConnectFailed, HTTPClient, ReadTimedOut
from tests.fakes.proxy import FakeProxy
from tests.fakes.sockets import closed_port, unaccepting_port

Script = Callable[[asyncio.StreamWriter], Awaitable[None]]
HEAD = b"HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nTransfer-Encoding: chunked\r\n\r\n"


class Upstream:
    """A loopback HTTP/1.1 server answering every request with ``script``."""

    def __init__(self, script: Script) -> None:
        self.script = script
        self.connections = 0
        self.requests: list[bytes] = []

    async def handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.connections += 1
        try:
            while True:
                head = await reader.readuntil(b"\r\n\r\n")
                length = next(
                    int(line.split(b":")[1])
                    for line in head.split(b"\r\n")
                    if line.lower().startswith(b"content-length:")
                )
                self.requests.append(head + await reader.readexactly(length))
                await self.script(writer)
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        writer.close()


async def _ok(writer: asyncio.StreamWriter) -> None:
    writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")
    await writer.drain()


@pytest.fixture
async def serve() -> AsyncIterator[Callable[..., Awaitable[str]]]:
    servers: list[asyncio.Server] = []

    async def start(upstream: Upstream, tls: ssl.SSLContext | None = None) -> str:
        server = await asyncio.start_server(upstream.handle, "127.0.0.1", 0, ssl=tls)
        servers.append(server)
        port = server.sockets[0].getsockname()[1]
        return f"{'https' if tls else 'http'}://127.0.0.1:{port}/v1/chat/completions"

    yield start
    for server in servers:
        server.close()


# ------------------------------------------------------------------- timeouts
async def test_first_byte_timeout_per_call(serve) -> None:  # type: ignore[no-untyped-def]
    async def slow(writer: asyncio.StreamWriter) -> None:
        await asyncio.sleep(0.5)
        await _ok(writer)

    url = await serve(Upstream(slow))
    client = HTTPClient(5, 5)
    started = time.monotonic()
    with pytest.raises(ReadTimedOut):
        await client.post(url, b"", b"{}", CallOptions(first_byte_timeout=0.1))
    assert time.monotonic() - started < 0.4
    assert await (await client.post(url, b"", b"{}")).read() == b"ok"  # the default: 5 s
    await client.close()


async def test_idle_timeout_cuts_a_silent_body_even_with_a_long_first_byte_timeout(
    serve,  # type: ignore[no-untyped-def]
) -> None:
    async def stalls(writer: asyncio.StreamWriter) -> None:
        writer.write(HEAD + b"5\r\nhello\r\n")
        await asyncio.sleep(3)

    url = await serve(Upstream(stalls))
    client = HTTPClient(5, 30)
    options = CallOptions(first_byte_timeout=10, idle_timeout=0.2)
    started = time.monotonic()
    response = await client.post(url, b"", b"{}", options)
    chunks = []
    with pytest.raises(ReadTimedOut):
        async for chunk in response.iter_chunks():
            chunks.append(chunk)
    assert chunks == [b"hello"]
    assert time.monotonic() - started < 1.0  # the idle deadline, not the first-byte one
    await client.close()


async def test_first_byte_timeout_stops_at_the_headers(serve) -> None:  # type: ignore[no-untyped-def]
    """A short first-byte timeout does not cut a body that keeps coming more slowly."""

    async def slow_body(writer: asyncio.StreamWriter) -> None:
        writer.write(HEAD)
        for word in (b"a", b"b", b"c"):
            await asyncio.sleep(0.25)
            writer.write(b"1\r\n%s\r\n" % word)
        writer.write(b"0\r\n\r\n")

    url = await serve(Upstream(slow_body))
    client = HTTPClient(5, 5)
    options = CallOptions(first_byte_timeout=0.15, idle_timeout=1)
    response = await client.post(url, b"", b"{}", options)
    assert await response.read() == b"abc"
    await client.close()


async def test_connect_timeout_per_call() -> None:
    client = HTTPClient(10, 10)
    with unaccepting_port() as port:
        assert port is not None, "the kernel accepted every connection: no full backlog"
        started = time.monotonic()
        with pytest.raises(ConnectFailed):
            await client.post(
                f"http://127.0.0.1:{port}/v1/x", b"", b"{}", CallOptions(connect_timeout=0.2)
            )
        assert time.monotonic() - started < 1.0


# ---------------------------------------------------------------------- proxies
@pytest.fixture
def proxy() -> Iterator[FakeProxy]:
    with FakeProxy(auth="relay:s3cr%t") as fake:
        yield fake


def test_proxy_url_parsing() -> None:
    proxy = Proxy.from_url("http://us%40er:p%3Ass@proxy.internal:3128")
    assert (proxy.host, proxy.port) == ("proxy.internal", 3128)
    assert proxy.authorization == b"Proxy-Authorization: Basic dXNAZXI6cDpzcw==\r\n"
    assert "dXNA" not in repr(proxy) and "3128" in repr(proxy)
    assert Proxy.from_url("http://10.0.0.1:8080").authorization == b""
    for bad in ("https://h:1", "http://h", "socks5://h:1080", "http://:80"):
        with pytest.raises(ValueError):
            Proxy.from_url(bad)


async def test_plain_http_through_a_proxy_uses_absolute_form(
    serve,  # type: ignore[no-untyped-def]
    proxy: FakeProxy,
) -> None:
    upstream = Upstream(_ok)
    url = await serve(upstream)
    client = HTTPClient(5, 5)
    options = CallOptions(proxy=Proxy.from_url(proxy.url))
    assert await (await client.post(url, b"X-Key: k\r\n", b"{}", options)).read() == b"ok"
    seen = proxy.requests[-1]
    assert (seen.method, seen.target) == ("POST", url)
    assert seen.headers["proxy-authorization"] == "Basic cmVsYXk6czNjciV0"  # relay:s3cr%t
    assert seen.headers["x-key"] == "k"
    assert upstream.requests[-1].startswith(b"POST /v1/chat/completions HTTP/1.1\r\n")
    assert b"proxy-authorization" not in upstream.requests[-1].lower()
    await client.close()


@pytest.fixture(scope="module")
def certificate(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """A self-signed certificate for 127.0.0.1 (made with the openssl command)."""
    assert shutil.which("openssl"), "the openssl command makes the test certificate"
    folder = tmp_path_factory.mktemp("tls")
    cert, key = folder / "cert.pem", folder / "key.pem"
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
         "-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1",
         "-keyout", str(key), "-out", str(cert)],
        check=True, capture_output=True,
    )  # fmt: skip
    return cert, key


def _tls(certificate: tuple[Path, Path]) -> tuple[ssl.SSLContext, ssl.SSLContext]:
    server = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    server.load_cert_chain(*certificate)
    client = ssl.create_default_context(cafile=str(certificate[0]))
    return server, client


async def test_https_through_a_connect_tunnel(
    serve,  # type: ignore[no-untyped-def]
    proxy: FakeProxy,
    certificate: tuple[Path, Path],
) -> None:
    """TLS runs end to end inside the tunnel: the proxy never sees the request or key;
    the tunnel is pooled apart from direct connections to the same origin."""
    server_tls, client_tls = _tls(certificate)
    upstream = Upstream(_ok)
    url = await serve(upstream, server_tls)
    client = HTTPClient(5, 5, ssl_context=client_tls)
    options = CallOptions(proxy=Proxy.from_url(proxy.url))
    for use in (options, None, options, None):
        response = await client.post(url, b"Authorization: Bearer sk-upstream\r\n", b"{}", use)
        assert await response.read() == b"ok"
    assert len(upstream.requests) == 4
    assert upstream.connections == 2  # one through the tunnel, one direct, each reused
    assert [r.method for r in proxy.requests] == ["CONNECT"]
    tunnel = proxy.requests[0]
    assert tunnel.target == url.split("/")[2]
    assert tunnel.headers["proxy-authorization"] == "Basic cmVsYXk6czNjciV0"
    assert tunnel.tunnelled and b"sk-upstream" not in tunnel.tunnelled
    await client.close()


@pytest.mark.parametrize("refusal", ["status", "auth", "port"])
async def test_a_proxy_that_refuses_is_a_connect_failure(
    serve,  # type: ignore[no-untyped-def]
    certificate: tuple[Path, Path],
    refusal: str,
) -> None:
    server_tls, client_tls = _tls(certificate)
    url = await serve(Upstream(_ok), server_tls)
    client = HTTPClient(5, 5, ssl_context=client_tls)
    with FakeProxy(auth="relay:right", refuse=403 if refusal == "status" else None) as proxy:
        proxy_url = {
            "status": proxy.url,
            "auth": proxy.url.replace("right", "wrong"),
            "port": f"http://127.0.0.1:{closed_port()}",
        }[refusal]
        with pytest.raises(ConnectFailed):
            await client.post(url, b"", b"{}", CallOptions(proxy=Proxy.from_url(proxy_url)))
        assert len(proxy.requests) == (0 if refusal == "port" else 1)
    await client.close()
