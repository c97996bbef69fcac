"""The pure rules behind the console's cookie: where ``next`` may lead, the CSRF check,
and how the invitation page masks the inviter's address."""

from __future__ import annotations

from relaygate.accounts.sessions import ActiveSession, csrf_matches
from relaygate.web.pages.invite_landing import masked_email
from relaygate.web.session import safe_next


def _session(csrf: str) -> ActiveSession:
    return ActiveSession(1, 2, "a@example.com", False, "", csrf)


def test_next_stays_on_this_site() -> None:
    assert safe_next("/console/keys?x=1") == "/console/keys?x=1"
    for foreign in ("//evil.example", "https://evil.example", "/\\evil.example", "", None):
        assert safe_next(foreign) == "/console/"


def test_csrf_needs_the_sessions_own_token() -> None:
    assert csrf_matches(_session("s3cret"), "s3cret")
    assert not csrf_matches(_session("s3cret"), "s3cre")
    assert not csrf_matches(_session("s3cret"), None)
    assert not csrf_matches(_session(""), "")  # a session made before CSRF secrets existed


def test_the_inviter_is_masked() -> None:
    assert masked_email("alice@example.com") == "a***e@example.com"
    assert masked_email("al@example.com") == "a***@example.com"
