"""The operator's read-only view of the effective settings, grouped by capability, with
every secret masked.

A value is masked when its setting is a ``SecretStr``, when its name (or a key inside a
mapping) speaks of a key, secret, password, token or DSN, or when it is a URL carrying a
password (``postgresql://user:pw@host/db`` shows as ``postgresql://user:***@host/db``).
The page shows what the gateway runs with; it is changed where it is configured (the TOML
file or ``RELAYGATE_*`` environment variables), never here. The tier tables and the
referral terms are defaults the operator may replace on the tiers page: where one is
replaced, its line shows the effective value and says it comes from the database.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal
from typing import Any
from urllib.parse import urlsplit

from pydantic import BaseModel, SecretStr

from relaygate.settings import Settings
from relaygate.web.i18n import N_

__all__ = ["MASK", "SettingLine", "SettingsGroup", "mask_value", "settings_groups"]

MASK = "***"
_SECRET_NAME = re.compile(r"key|secret|password|passwd|token|dsn|credential", re.IGNORECASE)
# names that contain "key"/"token" but hold no secret (durations, counts, prefixes)
_NOT_SECRET = re.compile(r"_(ttl|seconds|minutes|days|prefix|interval|bytes|estimate)$")

# (title msgid, setting-name prefixes); the first group whose prefix matches wins, and a
# setting no group names lands in "Other", so a new setting is never left out.
_GROUPS: tuple[tuple[str, tuple[str, ...]], ...] = (
    (
        N_("Server and storage"),
        ("database_url", "kv_", "host", "port", "public_url", "migrate_on_start", "max_")
        + ("log_level", "access_log", "trust_proxy", "forwarded_allow", "cors_", "site_name")
        + ("trusted_proxies", "client_ip_header", "shutdown_grace")
        + ("blob_", "files_"),
    ),
    (N_("Operator"), ("operator_email", "bootstrap_admin_key")),
    (
        N_("Upstreams and channels"),
        ("upstream_", "stream_keepalive", "channel_", "breaker_", "key_bench", "health_probe")
        + ("echo_channel", "channels"),
    ),
    (
        N_("Billing and limits"),
        ("balance_ttl", "default_output", "stream_cap", "route_multipliers", "flex_multiplier")
        + ("group_multipliers", "membership_tiers", "rate_limit_tiers", "usage_batch")
        + ("key_cache_ttl", "models", "tier_refresh_interval"),
    ),
    (N_("Console and sign-in"), ("login_", "session_", "passkey_")),
    (N_("Mail"), ("smtp_",)),
    (N_("Referrals"), ("referral_",)),
    (N_("Stored state and background responses"), ("state_", "responses_background")),
    (N_("Compaction and webhooks"), ("compaction_", "webhook_")),
)
_OTHER = N_("Other")


@dataclass(frozen=True, slots=True)
class SettingLine:
    name: str
    value: str  # as shown: secrets already masked
    masked: bool
    stored: bool = False  # the operator's saved value replaces the setting


@dataclass(frozen=True, slots=True)
class SettingsGroup:
    title: str  # msgid
    lines: tuple[SettingLine, ...]


def _secret_name(name: str) -> bool:
    return bool(_SECRET_NAME.search(name)) and not _NOT_SECRET.search(name)


def _mask_url(text: str) -> str:
    """A URL with its password (or a lone user part that is a token) replaced by MASK."""
    try:
        parts = urlsplit(text)
        password = parts.password
    except ValueError:
        return text
    if not parts.scheme or "@" not in parts.netloc:
        return text
    credentials, _, host = parts.netloc.rpartition("@")
    user = credentials.partition(":")[0]
    netloc = f"{user}:{MASK}@{host}" if password is not None else f"{MASK}@{host}"
    return parts._replace(netloc=netloc).geturl()


def mask_value(name: str, value: Any) -> Any:
    """``value`` with every secret in it masked (recursively through lists and mappings)."""
    if isinstance(value, SecretStr):
        return MASK if value.get_secret_value() else ""
    if isinstance(value, BaseModel):
        value = value.model_dump()
    if isinstance(value, dict):
        if name == "headers":  # header values carry keys (Authorization, x-api-key, ...)
            return {str(k): MASK for k in value}
        return {str(k): mask_value(str(k), v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [mask_value(name, item) for item in value]
    if isinstance(value, str):
        if value and _secret_name(name):
            return MASK
        return _mask_url(value)
    return value


def _shown(value: Any) -> str:
    if value is None:
        return "—"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, Decimal | int | float):
        return str(value)
    if isinstance(value, str):
        return value or "—"
    if isinstance(value, dict):
        return ", ".join(f"{k} = {_shown(v)}" for k, v in value.items()) or "—"
    if isinstance(value, list):
        return "; ".join(_shown(item) for item in value) or "—"
    return str(value)


def _plain(value: Any) -> Any:
    """``value`` in mask_value's shapes, nothing masked (to tell whether it masked)."""
    if isinstance(value, SecretStr):
        return value.get_secret_value()
    if isinstance(value, BaseModel):
        value = value.model_dump()
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(item) for item in value]
    return value


def _line(name: str, raw: Any) -> SettingLine:
    masked = mask_value(name, raw)
    return SettingLine(name, _shown(masked), masked != _plain(raw))


def _group_of(name: str) -> str:
    for title, prefixes in _GROUPS:
        if name.startswith(prefixes):
            return title
    return _OTHER


def settings_groups(
    settings: Settings, stored: Mapping[str, Any] | None = None
) -> tuple[SettingsGroup, ...]:
    """Every field of ``settings``, masked, in its capability's group (declared order);
    a name in ``stored`` shows that effective value instead, marked as stored."""
    stored = stored or {}
    lines: dict[str, list[SettingLine]] = {}
    for name in type(settings).model_fields:
        if name in stored:
            line = dataclasses.replace(_line(name, stored[name]), stored=True)
        else:
            line = _line(name, getattr(settings, name))
        lines.setdefault(_group_of(name), []).append(line)
    order = [title for title, _ in _GROUPS] + [_OTHER]
    return tuple(SettingsGroup(t, tuple(lines[t])) for t in order if t in lines)
