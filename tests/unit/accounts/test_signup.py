"""The pure sign-up rules: invite-code format, email normalisation, referral eligibility."""

from __future__ import annotations

import pytest

from relaygate.accounts.signup import (
    INVITE_ALPHABET,
    INVITE_LENGTH,
    email_disqualification,
    is_invite_code,
    mailbox,
    new_invite_code,
    normalise_email,
    normalise_invite_code,
    same_mailbox,
)
from relaygate.core.errors import InvalidRequest


def test_new_codes_have_eight_upper_case_letters_or_digits() -> None:
    codes = {new_invite_code() for _ in range(200)}
    assert len(codes) == 200
    for code in codes:
        assert len(code) == INVITE_LENGTH == 8
        assert set(code) <= set(INVITE_ALPHABET)
        assert is_invite_code(code)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("AB12CD34", "AB12CD34"),
        (" ab12cd34 ", "AB12CD34"),
        ("AB12CD3", None),
        ("AB12CD345", None),
        ("AB12-D34", None),
        ("ÄB12CD34", None),
        ("", None),
    ],
)
def test_codes_are_normalised_or_refused(text: str, expected: str | None) -> None:
    assert normalise_invite_code(text) == expected


def test_emails_are_trimmed_and_lower_cased() -> None:
    assert normalise_email("  Alice@Example.COM ") == "alice@example.com"


@pytest.mark.parametrize("text", ["", "alice", "@example.com", "alice@localhost", "a b@x.com"])
def test_malformed_emails_are_refused(text: str) -> None:
    with pytest.raises(InvalidRequest):
        normalise_email(text)


@pytest.mark.parametrize(
    ("email", "allowed", "denied", "qualifies"),
    [
        ("a@example.com", [], [], True),
        ("a@mailinator.com", [], ["mailinator.com"], False),
        ("a@eu.mailinator.com", [], ["mailinator.com"], False),  # subdomains too
        ("a@notmailinator.com", [], ["mailinator.com"], True),  # not a suffix match
        ("a@corp.com", ["corp.com"], [], True),
        ("a@other.com", ["corp.com"], [], False),
        ("a@corp.com", ["corp.com"], ["corp.com"], False),  # deny wins
        ("a@Corp.COM", ["corp.com"], [], True),
    ],
)
def test_email_qualification(
    email: str, allowed: list[str], denied: list[str], qualifies: bool
) -> None:
    reason = email_disqualification(email, allowed, denied)
    assert (reason is None) == qualifies
    if reason is not None:
        assert "not eligible" in reason


@pytest.mark.parametrize(
    ("a", "b", "same"),
    [
        ("me@x.com", "ME@x.com", True),
        ("me+promo@x.com", "me@x.com", True),
        ("me+1@x.com", "me+2@x.com", True),
        ("me@x.com", "me@y.com", False),
        ("me@x.com", "you@x.com", False),
    ],
)
def test_same_mailbox_ignores_case_and_tags(a: str, b: str, same: bool) -> None:
    assert same_mailbox(a, b) is same


@pytest.mark.parametrize(
    ("email", "box"),
    [
        ("bob@gmail.com", "bob@gmail.com"),
        ("b.o.b+2@gmail.com", "bob@gmail.com"),
        ("BOB@googlemail.com", "bob@gmail.com"),
        (" B.O.B+x+y@GoogleMail.com ", "bob@gmail.com"),
        ("me+promo@x.com", "me@x.com"),  # +tags go on every domain
        ("m.e@x.com", "m.e@x.com"),  # dots matter outside Gmail
        ("m.e@mail.gmail.com", "m.e@mail.gmail.com"),  # only Gmail's own two domains
        ("+only@x.com", "@x.com"),
    ],
)
def test_the_mailbox_behind_an_address(email: str, box: str) -> None:
    assert mailbox(email) == box


@pytest.mark.parametrize(
    ("a", "b"),
    [("bob@gmail.com", "b.o.b+2@gmail.com"), ("bob@gmail.com", "BOB@googlemail.com")],
)
def test_gmail_variants_are_the_same_mailbox(a: str, b: str) -> None:
    assert same_mailbox(a, b)
    assert not same_mailbox(a, "alice@gmail.com")
