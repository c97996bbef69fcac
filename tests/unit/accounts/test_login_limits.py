"""Which windows a sign-in request counts in (signup.LoginLimits)."""

from __future__ import annotations

from relaygate.accounts.signup import LoginLimits
from relaygate.kv.protocols import RateHit


def test_per_mailbox_and_per_ip_windows() -> None:
    hits = LoginLimits(5, 10, 50).hits("B.o.b+tag@googlemail.com", "203.0.113.9")
    assert hits == [
        RateHit("login:mailbox:bob@gmail.com", 60, 1, 5),
        RateHit("login:ip:203.0.113.9:m", 60, 1, 10),
        RateHit("login:ip:203.0.113.9:h", 3600, 1, 50),
    ]


def test_zero_turns_a_limit_off_and_no_ip_counts_only_the_mailbox() -> None:
    assert LoginLimits(5, 0, 50).hits("a@b.test", "::1") == [
        RateHit("login:mailbox:a@b.test", 60, 1, 5),
        RateHit("login:ip:::1:h", 3600, 1, 50),
    ]
    assert LoginLimits(0, 10, 50).hits("a@b.test", None) == []
