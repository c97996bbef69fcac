"""The key ring: rotation over a channel's keys, and keys benched after a refusal."""

from __future__ import annotations

from relaygate.channels.spec import ChannelSpec
from relaygate.relay.keyring import KeyRing


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def _channel(keys: int) -> ChannelSpec:
    names = tuple(f"k{i}" for i in range(keys))
    return ChannelSpec(1, "c", "openai", "http://x", names[0] if names else "", {}, keys=names)


def test_one_key_is_always_key_zero() -> None:
    ring = KeyRing()
    assert [ring.order(_channel(1)) for _ in range(3)] == [[0], [0], [0]]


def test_keys_take_turns() -> None:
    ring, channel = KeyRing(), _channel(3)
    firsts = [ring.order(channel)[0] for _ in range(6)]
    assert firsts == [0, 1, 2, 0, 1, 2]
    assert sorted(ring.order(channel)) == [0, 1, 2]  # every key is a fallback


def test_a_benched_key_goes_last_until_its_time_is_over() -> None:
    clock = Clock()
    ring, channel = KeyRing(bench_seconds=60, clock=clock), _channel(3)
    ring.bench(1, 0, 401, None)
    assert ring.benched(channel.id, len(channel.keys)) == [0]
    assert all(ring.order(channel)[-1] == 0 for _ in range(3))
    clock.now += 61
    assert ring.benched(channel.id, len(channel.keys)) == []


def test_a_429_benches_for_its_retry_after_within_bounds() -> None:
    clock = Clock()
    ring, channel = KeyRing(bench_seconds=60, clock=clock), _channel(2)
    ring.bench(1, 1, 429, b"5")
    clock.now += 6
    assert ring.benched(channel.id, len(channel.keys)) == []
    ring.bench(1, 1, 429, b"99999999")  # capped at an hour
    clock.now += 3601
    assert ring.benched(channel.id, len(channel.keys)) == []


def test_an_unusable_retry_after_falls_back_to_the_default() -> None:
    clock = Clock()
    ring, channel = KeyRing(bench_seconds=60, clock=clock), _channel(2)
    for hint in (b"nan", b"inf", b"Wed, 21 Oct 2026 07:28:00 GMT"):
        ring.bench(1, 0, 429, hint)
        assert ring.benched(channel.id, len(channel.keys)) == [0]
        clock.now += 61
        assert ring.benched(channel.id, len(channel.keys)) == [], hint
