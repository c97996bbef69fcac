"""Key format and database URL mapping."""

from __future__ import annotations

import dataclasses
import re

import pytest

from relaygate.core.ids import hash_key, key_hint, new_api_key
from relaygate.db.engine import async_url


def test_keys_have_the_platform_format_and_are_unique() -> None:
    keys = {new_api_key() for _ in range(200)}
    assert len(keys) == 200
    assert all(re.fullmatch(r"sk-[A-Za-z0-9]{48}", k) for k in keys)


def test_hash_and_hint_do_not_reveal_the_key() -> None:
    key = new_api_key()
    assert len(hash_key(key)) == 64 and key[3:] not in hash_key(key)
    assert key_hint(key) == f"{key[:7]}…{key[-4:]}"


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("sqlite:///relaygate.db", "sqlite+aiosqlite:///relaygate.db"),
        ("sqlite:////tmp/x.db", "sqlite+aiosqlite:////tmp/x.db"),
        ("postgresql://u@h:5432/d", "postgresql+asyncpg://u@h:5432/d"),
        ("postgres://u@h/d", "postgresql+asyncpg://u@h/d"),
    ],
)
def test_database_urls_get_async_drivers(url: str, expected: str) -> None:
    assert async_url(url) == expected


def test_unsupported_database_is_refused() -> None:
    with pytest.raises(ValueError, match="unsupported"):
        async_url("mysql://x")


def test_usage_columns_cover_the_table() -> None:
    from relaygate.billing.models import UsageRecord
    from relaygate.billing.writer import USAGE_COLUMNS
    from relaygate.relay.context import CallContext

    table_columns = {c.name for c in UsageRecord.__table__.columns} - {"id"}
    assert set(USAGE_COLUMNS) == table_columns
    row = CallContext("req_x", "chat/completions", "1.2.3.4").record()
    assert tuple(dataclasses.asdict(row)) == USAGE_COLUMNS
