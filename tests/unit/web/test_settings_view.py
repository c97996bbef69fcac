"""The settings page's view: every setting shown, grouped, and no secret value in it."""

from __future__ import annotations

from pydantic import SecretStr

from relaygate.settings import Settings, load_settings
from relaygate.web.settings_view import MASK, mask_value, settings_groups

SECRETS = {
    "bootstrap_admin_key": "rg-admin-Sup3rSecretAdminKey",
    "smtp_password": "Smtp-PassWord-9911",
    "compaction_secret": "compaction-Secret-4455",
}
DB_PASSWORD = "Db-Pa55word-7788"
KV_PASSWORD = "Redis-Pa55-6622"
CHANNEL_KEY = "sk-upstreamChannelKey0123456789"
HEADER_KEY = "Bearer hdr-Token-3344"


def _settings() -> Settings:
    return load_settings(
        database_url=f"postgresql+asyncpg://relay:{DB_PASSWORD}@db.internal:5432/relay",
        kv_url=f"redis://:{KV_PASSWORD}@cache.internal:6379/0",
        channels=[
            {
                "name": "main",
                "base_url": "https://upstream.example/v1",
                "api_key": CHANNEL_KEY,
                "headers": {"Authorization": HEADER_KEY},
                "models": {"gpt-4o": "gpt-4o"},
            }
        ],
        **SECRETS,
    )


def _page_text(settings: Settings) -> str:
    return "\n".join(
        f"{line.name} {line.value}" for group in settings_groups(settings) for line in group.lines
    )


def test_no_secret_value_appears_in_the_view() -> None:
    text = _page_text(_settings())
    for secret in [*SECRETS.values(), DB_PASSWORD, KV_PASSWORD, CHANNEL_KEY, HEADER_KEY]:
        assert secret not in text
    assert f"relay:{MASK}@db.internal:5432" in text  # the DSN stays readable
    assert "cache.internal:6379" in text


def test_every_setting_is_in_one_group_and_secrets_are_flagged() -> None:
    settings = _settings()
    groups = settings_groups(settings)
    names = [line.name for group in groups for line in group.lines]
    assert sorted(names) == sorted(Settings.model_fields)
    flagged = {line.name for group in groups for line in group.lines if line.masked}
    assert {"bootstrap_admin_key", "smtp_password", "compaction_secret", "database_url"} <= flagged
    assert "key_cache_ttl" not in flagged  # a duration named after keys is no secret
    assert "membership_tiers" not in flagged and "public_url" not in flagged


def test_mask_value_rules() -> None:
    assert mask_value("smtp_password", SecretStr("x")) == MASK
    assert mask_value("smtp_password", SecretStr("")) == ""
    assert mask_value("api_token", "abc") == MASK
    assert mask_value("public_url", "https://gw.example") == "https://gw.example"
    assert mask_value("proxy", "http://u:p@h:1") == f"http://u:{MASK}@h:1"
    assert mask_value("kv_url", "redis://tok@h:1") == f"redis://{MASK}@h:1"
    assert mask_value("opts", {"client_secret": "s", "n": 1}) == {"client_secret": MASK, "n": 1}
