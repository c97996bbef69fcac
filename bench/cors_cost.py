"""What CORS costs a relayed call: ``python -m bench.cors_cost``.

The CORS layer (web/cors.py) runs in front of the raw relay handlers, so every call pays
for it. Measured here without a server: the scan for ``Origin`` that every call does
(an OpenAI SDK's 17 request headers), and for a browser call the wrapped ``send`` adding
the precomputed headers to a response start and body. Results go to
docs/configuration.md (CORS).
"""

from __future__ import annotations

import asyncio
import timeit
from collections.abc import MutableMapping
from typing import Any

from relaygate.web.cors import Cors, request_origin

SDK_HEADERS = [
    (b"host", b"127.0.0.1:8080"),
    (b"accept-encoding", b"gzip, deflate"),
    (b"connection", b"keep-alive"),
    (b"accept", b"application/json"),
    (b"content-type", b"application/json"),
    (b"user-agent", b"OpenAI/Python 1.99.0"),
    (b"x-stainless-lang", b"python"),
    (b"x-stainless-package-version", b"1.99.0"),
    (b"x-stainless-os", b"Linux"),
    (b"x-stainless-arch", b"x64"),
    (b"x-stainless-runtime", b"CPython"),
    (b"x-stainless-runtime-version", b"3.11.2"),
    (b"authorization", b"Bearer sk-" + b"a" * 48),
    (b"x-stainless-async", b"false"),
    (b"x-stainless-retry-count", b"0"),
    (b"x-stainless-read-timeout", b"600"),
    (b"content-length", b"95"),
]
ORIGIN = b"https://chat.example"


async def _sink(message: MutableMapping[str, Any]) -> None:
    return None


def _start() -> dict[str, Any]:
    return {"type": "http.response.start", "status": 200, "headers": [(b"content-type", b"x")]}


async def _answers(cors: Cors | None, scope: dict[str, Any], count: int) -> None:
    for _ in range(count):
        send = _sink if cors is None else cors.wrap(scope, ORIGIN, _sink)
        await send(_start())
        await send({"type": "http.response.body", "body": b"x"})


def main() -> None:
    calls = 1_000_000
    scope = {"type": "http", "method": "POST", "path": "/v1/chat/completions"}
    plain = {**scope, "headers": SDK_HEADERS}
    browser = {**scope, "headers": [*SDK_HEADERS, (b"origin", ORIGIN)]}
    empty = timeit.timeit(lambda: None, number=calls)
    scan = timeit.timeit(lambda: request_origin(plain), number=calls) - empty
    print(f"no Origin ({len(SDK_HEADERS)} headers): {scan / calls * 1e9:.0f} ns per call")
    found = timeit.timeit(lambda: request_origin(browser), number=calls) - empty
    answers = 200_000
    loop = asyncio.new_event_loop()
    cors = Cors(["*"], [])
    wrapped = timeit.timeit(
        lambda: loop.run_until_complete(_answers(cors, browser, answers)), number=1
    )
    bare = timeit.timeit(
        lambda: loop.run_until_complete(_answers(None, browser, answers)), number=1
    )
    loop.close()
    extra = found / calls + (wrapped - bare) / answers
    print(f"with Origin: {extra * 1e9:.0f} ns per call (scan, wrap, headers on the start)")


if __name__ == "__main__":
    main()
