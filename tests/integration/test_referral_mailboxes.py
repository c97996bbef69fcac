"""One referral reward per mailbox (issue 11): address variants cannot farm rewards.

``b.o.b+2@gmail.com`` and ``BOB@googlemail.com`` reach ``bob@gmail.com``'s mailbox: they
cannot redeem bob's code, and a mailbox earns one invitee reward whichever variant signs
up. Accounts themselves stay keyed by the lower-cased address (docs/signup-referral.md).
"""

from __future__ import annotations

import sqlite3
import uuid
from pathlib import Path

from relaygate.db.migrate import upgrade
from tests.harness import Gateway
from tests.integration.test_signup_referral import (
    invite_of,
    redeem,
    referral_packages,
    sign_in,
)


def _name() -> str:
    return f"bob{uuid.uuid4().hex[:10]}"


def _rewards(gw: Gateway, *user_ids: int) -> int:
    return sum(len(referral_packages(gw, user_id)) for user_id in user_ids)


def test_gmail_variants_of_the_inviter_earn_nothing(gateway: Gateway) -> None:
    name = _name()
    bob = sign_in(gateway, f"{name}@gmail.com")
    code = invite_of(gateway, bob["user_id"])["code"]
    dotted = sign_in(gateway, f"{name[0]}.{name[1]}.{name[2:]}+2@gmail.com", invite_code=code)
    upper = sign_in(gateway, f"{name.upper()}@googlemail.com", invite_code=code)
    assert dotted["is_new"] and upper["is_new"]

    assert _rewards(gateway, bob["user_id"], dotted["user_id"], upper["user_id"]) == 0
    refused = redeem(gateway, dotted["session_token"], code)
    assert refused.status_code == 400, refused.text

    alice = sign_in(gateway, f"alice{uuid.uuid4().hex[:10]}@gmail.com", invite_code=code)
    assert len(referral_packages(gateway, alice["user_id"])) == 1
    assert len(referral_packages(gateway, bob["user_id"])) == 1  # a distinct address pays


def test_a_mailbox_is_rewarded_once_whichever_variant_signs_up(gateway: Gateway) -> None:
    inviter = sign_in(gateway, f"{_name()}@example.test")
    code = invite_of(gateway, inviter["user_id"])["code"]
    name = _name()
    first = sign_in(gateway, f"{name}@gmail.com", invite_code=code)
    tagged = sign_in(gateway, f"{name}+again@gmail.com")
    dotted = sign_in(gateway, f"{name[:3]}.{name[3:]}@googlemail.com")

    again = redeem(gateway, tagged["session_token"], code)
    assert again.status_code == 200, again.text
    assert again.json()["data"] == {
        "rewarded": False,
        "reason": "this mailbox has already earned a referral reward",
    }
    other_inviter = sign_in(gateway, f"{_name()}@example.test")
    other_code = invite_of(gateway, other_inviter["user_id"])["code"]
    assert redeem(gateway, dotted["session_token"], other_code).json()["data"]["rewarded"] is False

    assert len(referral_packages(gateway, first["user_id"])) == 1
    assert _rewards(gateway, tagged["user_id"], dotted["user_id"]) == 0
    assert len(referral_packages(gateway, inviter["user_id"])) == 1
    assert referral_packages(gateway, other_inviter["user_id"]) == []
    assert invite_of(gateway, inviter["user_id"])["invited"] == 2  # recorded, not paid


def test_variants_are_separate_accounts(gateway: Gateway) -> None:
    """Sign-up is not merged by mailbox: on some domains ``me+tag@`` is another person."""
    name = _name()
    plain = sign_in(gateway, f"{name}@example.test")
    tagged = sign_in(gateway, f"{name}+work@example.test")
    assert tagged["is_new"] is True
    assert tagged["user_id"] != plain["user_id"]
    assert sign_in(gateway, f"{name.upper()}@EXAMPLE.test")["user_id"] == plain["user_id"]


def test_migration_0012_marks_the_mailboxes_already_rewarded(tmp_path: Path) -> None:
    path = tmp_path / "old.db"
    upgrade(f"sqlite:///{path}", "0011")
    db = sqlite3.connect(path, isolation_level=None)
    users = ["inviter@example.test", "bob@gmail.com", "b.o.b@googlemail.com", "al@x.test"]
    for user_id, email in enumerate(users, start=1):
        db.execute(
            'INSERT INTO users (id, email, name, is_operator, is_disabled, created_at, "group") '
            "VALUES (?, ?, '', 0, 0, '2026-01-01', '')",
            (user_id, email),
        )
    for invitee, rewarded in ((2, 1), (3, 1), (4, 0)):  # bob was farmed once already
        db.execute(
            "INSERT INTO referrals (inviter_id, invitee_id, created_at, rewarded) "
            "VALUES (1, ?, '2026-01-01', ?)",
            (invitee, rewarded),
        )
    db.close()

    upgrade(f"sqlite:///{path}")

    db = sqlite3.connect(path)
    marks = db.execute("SELECT invitee_id, mailbox FROM referrals ORDER BY invitee_id").fetchall()
    assert marks == [(2, "bob@gmail.com"), (3, None), (4, None)]
    db.close()
