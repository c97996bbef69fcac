"""Invitees' masked addresses (billing/invites_view.py)."""

from __future__ import annotations

from relaygate.billing.invites_view import mask_email


def test_masked_emails_keep_the_domain() -> None:
    assert mask_email("alice@example.com") == "al***@example.com"
    assert mask_email("bob@example.com") == "b***@example.com"
