"""Settings: file < environment < explicit overrides; channels from TOML."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import pytest
from pydantic import ValidationError

from relaygate.settings import load_settings

TOML = """
[settings]
port = 9001
max_body_bytes = 1234

[[channels]]
name = "a"
type = "openai"
base_url = "http://127.0.0.1:1/v1"
api_key_env = "RG_TEST_UPSTREAM_KEY"
models = ["m1", "m2"]

[[channels]]
name = "b"
base_url = "http://127.0.0.1:2/v1"
models = { "public" = "upstream" }
"""


def test_file_values_channels_and_key_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "c.toml"
    path.write_text(TOML)
    monkeypatch.setenv("RG_TEST_UPSTREAM_KEY", "sk-from-env")
    settings = load_settings(path)
    assert settings.port == 9001 and settings.max_body_bytes == 1234
    a, b = settings.channels
    assert a.api_key == "sk-from-env"
    assert a.models == {"m1": "m1", "m2": "m2"}
    assert b.models == {"public": "upstream"} and b.type == "openai"


def test_environment_beats_file_and_overrides_beat_both(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "c.toml"
    path.write_text(TOML)
    monkeypatch.setenv("RELAYGATE_PORT", "9002")
    monkeypatch.setenv("RELAYGATE_MAX_BODY_BYTES", "99")
    assert load_settings(path).port == 9002
    settings = load_settings(path, port=9003)
    assert settings.port == 9003 and settings.max_body_bytes == 99


def test_environment_values_are_typed_like_the_fields(monkeypatch: pytest.MonkeyPatch) -> None:
    """Scalars as text, structured fields as JSON, names in any case."""
    monkeypatch.setenv("RELAYGATE_WEBHOOK_ALLOW_PRIVATE", "true")
    monkeypatch.setenv("relaygate_breaker_threshold", "7")
    monkeypatch.setenv("RELAYGATE_PUBLIC_URL", "https://relay.example")
    monkeypatch.setenv("RELAYGATE_BOOTSTRAP_ADMIN_KEY", "sk-admin-from-env")
    monkeypatch.setenv("RELAYGATE_ROUTE_MULTIPLIERS", '{"cc-omg": "0.3"}')
    monkeypatch.setenv("RELAYGATE_REFERRAL_ALLOWED_DOMAINS", '["example.com"]')
    monkeypatch.setenv("RELAYGATE_RATE_LIMIT_TIERS", '[["0", 30], ["20", 500]]')
    settings = load_settings()
    assert settings.webhook_allow_private is True and settings.breaker_threshold == 7
    assert settings.public_url == "https://relay.example"
    assert settings.bootstrap_admin_key is not None
    assert settings.bootstrap_admin_key.get_secret_value() == "sk-admin-from-env"
    assert settings.route_multipliers == {"cc-omg": Decimal("0.3")}
    assert settings.referral_allowed_domains == ["example.com"]
    assert settings.rate_limit_tiers == [(Decimal(0), 30), (Decimal(20), 500)]


def test_a_structured_variable_that_is_not_json_is_refused(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("RELAYGATE_GROUP_MULTIPLIERS", "vip=0.8")
    with pytest.raises(ValueError, match="RELAYGATE_GROUP_MULTIPLIERS must be JSON"):
        load_settings()
    monkeypatch.setenv("RELAYGATE_GROUP_MULTIPLIERS", '{"vip": "-1"}')
    monkeypatch.setenv("RELAYGATE_BREAKER_THRESHOLD", "zero")
    with pytest.raises(ValidationError):
        load_settings()
