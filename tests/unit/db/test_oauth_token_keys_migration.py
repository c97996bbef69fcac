"""Migration 0025 gives the live OAuth tokens issued before it their API key (the token's
digest is the key's), and none to a revoked token or one without general_api_access."""

from __future__ import annotations

import sqlite3
from pathlib import Path

from relaygate.db.migrate import upgrade

_NOW = "2025-01-01 00:00:00.000000"


def test_live_general_tokens_get_a_key(tmp_path: Path) -> None:
    path = tmp_path / "gw.db"
    upgrade(f"sqlite:///{path}", "0022")
    with sqlite3.connect(path) as db:
        db.execute(
            'INSERT INTO users (id, email, name, is_operator, is_disabled, "group", created_at)'
            " VALUES (1, 'a@example.test', '', 0, 0, '', ?)",
            (_NOW,),
        )
        db.execute(
            "INSERT INTO oauth_apps (id, owner_id, client_id, secret_hash, name, logo_url,"
            " homepage, redirect_domains, scope, public, created_at)"
            " VALUES (1, 1, ?, 's', 'Ride bot', '', '', '[]', 'general_api_access', 0, ?)",
            ("0" * 24, _NOW),
        )
        rows = [
            (1, "a" * 64, "general_api_access", None),
            (2, "b" * 64, "general_api_access", _NOW),  # revoked
            (3, "c" * 64, "something_else", None),
        ]
        for token_id, digest, scope, revoked in rows:
            db.execute(
                "INSERT INTO oauth_tokens (id, token_hash, app_id, user_id, code_id, scope,"
                " revoked_at, created_at) VALUES (?, ?, 1, 1, ?, ?, ?, ?)",
                (token_id, digest, token_id, scope, revoked, _NOW),
            )
    upgrade(f"sqlite:///{path}")
    with sqlite3.connect(path) as db:
        keys = db.execute(
            "SELECT id, user_id, key_hash, remark, purpose, is_admin, is_disabled FROM api_keys"
        ).fetchall()
        links = dict(db.execute("SELECT id, api_key_id FROM oauth_tokens").fetchall())
    assert len(keys) == 1
    key_id, user_id, key_hash, remark, purpose, is_admin, is_disabled = keys[0]
    assert (user_id, key_hash, remark, purpose) == (1, "a" * 64, "OAuth: Ride bot", "oauth")
    assert not is_admin and not is_disabled
    assert links == {1: key_id, 2: None, 3: None}
