"""Sign-in challenges live a short while and are used once (kv counters, a test clock)."""

from __future__ import annotations

import asyncio
import uuid

import pytest

from relaygate.accounts.passkeys import PasskeyService, RelyingParty
from relaygate.core.errors import AuthenticationFailed
from relaygate.kv import open_kv
from relaygate.kv.memory import MemoryCounter
from tests.fakes.authenticator import SoftAuthenticator, SoftCredential

ORIGIN = "https://gw.example.test"


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def _service(clock: Clock) -> PasskeyService:
    rp = RelyingParty("gw.example.test", "Relaygate", (ORIGIN,), challenge_ttl_s=60)
    return PasskeyService(db=None, counters=MemoryCounter(clock), rp=rp)  # type: ignore[arg-type]


def _answer(options: dict[str, object]) -> dict[str, object]:
    device = SoftAuthenticator(ORIGIN)
    credential = SoftCredential("gw.example.test", b"1")
    device.credentials["x"] = credential
    return device.get(options, credential_id="x")


async def test_an_expired_challenge_is_refused() -> None:
    clock = Clock()
    svc = _service(clock)
    options = await svc.authentication_options()
    assert options["timeout"] == 60_000 and options["rpId"] == "gw.example.test"
    clock.now += 61
    with pytest.raises(AuthenticationFailed):
        await svc.authenticate(_answer(options))


async def test_a_challenge_is_taken_once() -> None:
    svc = _service(Clock())
    options = await svc.authentication_options()
    challenge = str(options["challenge"])
    assert await svc._take("signin", challenge) is True
    assert await svc._take("signin", challenge) is False
    # and a sign-in challenge is not a registration challenge
    other = str((await svc.authentication_options())["challenge"])
    assert await svc._take("register:1", other) is False


async def test_two_replicas_sharing_redis_take_a_challenge_once() -> None:
    """Two gateways behind one Redis: a challenge one issued is taken once, by either,
    even when both try at the same moment."""
    prefix = f"relaygate-test:{uuid.uuid4().hex}:"
    stores = [open_kv("redis://127.0.0.1:6379/0", prefix=prefix) for _ in range(2)]
    rp = RelyingParty("gw.example.test", "Relaygate", (ORIGIN,))
    replicas = [PasskeyService(None, s.counters, rp) for s in stores]  # type: ignore[arg-type]
    try:
        for _ in range(20):
            challenge = str((await replicas[0].authentication_options())["challenge"])
            taken = await asyncio.gather(*(r._take("signin", challenge) for r in replicas))
            assert sorted(taken) == [False, True]
    finally:
        for store in stores:
            await store.close()
