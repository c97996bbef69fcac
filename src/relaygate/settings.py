"""The one typed settings object, read once at start-up.

Sources, lowest priority first: defaults, the ``[settings]`` table of the TOML file given
with ``--config``, ``RELAYGATE_*`` environment variables, then command-line overrides.
Channels declared in the TOML file (``[[channels]]``) land in ``Settings.channels``; an
``api_key_env`` is resolved here, because no other module may read the environment.
"""

from __future__ import annotations

import ipaddress
import json
import os
import tomllib
import types
import typing
from decimal import Decimal
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, SecretStr, field_validator, model_validator

from relaygate.channels.options import (
    ChannelOptions,
    ChannelType,
    join_keys,
    with_tool_defaults,
)

__all__ = ["ChannelConfig", "ModelPriceConfig", "Settings", "load_settings"]


class ChannelConfig(BaseModel):
    """A channel declared in the TOML file; see docs/configuration.md."""

    name: str = Field(min_length=1, max_length=100)
    type: ChannelType = "openai"
    base_url: str = ""
    api_key: str = ""  # several keys (used in rotation): a list, or one per line
    api_key_env: str | None = None
    models: dict[str, str] = Field(default_factory=dict)
    priority: int = 0
    weight: int = Field(default=1, ge=1)
    enabled: bool = True
    headers: dict[str, str] = Field(default_factory=dict)
    options: ChannelOptions = Field(default_factory=ChannelOptions)

    _keys = field_validator("api_key", mode="before")(join_keys)

    @field_validator("models", mode="before")
    @classmethod
    def _models_as_mapping(cls, value: Any) -> Any:
        """A plain list ``["a", "b"]`` means each public name equals the upstream name."""
        if isinstance(value, list):
            return {str(name): str(name) for name in value}
        return value

    @model_validator(mode="after")
    def _tool_defaults(self) -> ChannelConfig:
        """A tool channel's default base URL and tool (docs/tools.md), as in the API."""
        self.base_url, self.models = with_tool_defaults(
            self.type, self.base_url, self.models, self.options.region
        )
        return self


class ModelPriceConfig(BaseModel):
    """A model's official prices per million tokens, in currency units (``"2.50"``); the
    media prices are per image, per million input characters, per second of audio."""

    name: str = Field(min_length=1, max_length=200)
    input: Decimal = Field(default=Decimal(0), ge=0)
    output: Decimal = Field(default=Decimal(0), ge=0)
    cached_input: Decimal | None = Field(default=None, ge=0)
    cache_write: Decimal | None = Field(default=None, ge=0)
    reasoning: Decimal | None = Field(default=None, ge=0)
    per_call: Decimal = Field(default=Decimal(0), ge=0)
    per_image: Decimal = Field(default=Decimal(0), ge=0)
    per_character: Decimal = Field(default=Decimal(0), ge=0)
    per_second: Decimal = Field(default=Decimal(0), ge=0)
    multiplier: Decimal = Field(default=Decimal(1), ge=0)
    flex: bool = False
    vip_only: bool = False


class Settings(BaseModel):
    model_config = ConfigDict(extra="ignore")

    database_url: str = "sqlite:///relaygate.db"
    kv_url: str = "memory://"
    kv_prefix: str = "relaygate:"  # namespaces Redis keys and channels (deployments sharing one)
    host: str = "127.0.0.1"
    port: int = 8080
    public_url: str | None = None
    bootstrap_admin_key: SecretStr | None = None
    operator_email: str = "operator@localhost"
    migrate_on_start: bool = True
    echo_channel: bool = True

    max_body_bytes: int = 32 * 1024 * 1024
    max_header_bytes: int = 64 * 1024

    upstream_connect_timeout: float = 10.0
    upstream_read_timeout: float = 600.0
    stream_keepalive_interval: float = 15.0

    key_cache_ttl: float = 1.0
    # seconds between a replica's checks (one kv read) for channels or prices changed
    # through another replica; the table is read again only when it changed
    channel_refresh_interval: float = Field(default=1.0, gt=0)
    price_refresh_interval: float = Field(default=1.0, gt=0)
    # circuit breaker: consecutive failures that open a channel, seconds before a trial call
    breaker_threshold: int = Field(default=5, ge=1)
    breaker_cooldown: float = Field(default=30.0, gt=0)
    # seconds a channel key the upstream refused or rate-limited is left out of rotation
    key_bench_seconds: float = Field(default=60.0, gt=0)
    # periodic channel probes (0: off); by default only channels not known to work
    health_probe_interval: float = Field(default=0.0, ge=0)
    health_probe_all: bool = False
    usage_batch_size: int = 1000

    # CORS (docs/configuration.md): origins whose pages may call the relay routes (/v1/...
    # and the route groups; "*": any), and the other routes (operator, platform: none)
    cors_origins: list[str] = Field(default_factory=lambda: ["*"])
    cors_platform_origins: list[str] = Field(default_factory=list)

    trust_proxy_headers: bool = False
    forwarded_allow_ips: str = "127.0.0.1"
    # scale-out (docs/deploy.md): the proxies whose client-address header is believed
    # (addresses or CIDRs; empty: none, unless trust_proxy_headers names them the old way),
    # which header that is, and the seconds a SIGTERM gives requests and streams in flight
    trusted_proxies: list[str] = Field(default_factory=list)
    client_ip_header: typing.Literal["x-forwarded-for", "cf-connecting-ip", "x-real-ip"] = (
        "x-forwarded-for"
    )
    shutdown_grace_seconds: int = Field(default=30, ge=0)

    log_level: str = "info"
    # "text" (readable, the default) or "json" (one object per line, for production)
    log_format: Literal["text", "json"] = "text"
    call_log: bool = True  # one info line per relay call (docs/observability.md)
    access_log: bool = False
    # Prometheus /metrics (docs/observability.md): served when enabled, to callers on the
    # metrics_allow networks, or anywhere with ``Authorization: Bearer <metrics_token>``
    metrics_enabled: bool = True
    metrics_token: SecretStr | None = None
    metrics_allow: list[str] = Field(default_factory=lambda: ["127.0.0.0/8", "::1/128"])

    balance_ttl: float = 1.0
    default_output_estimate: int = 1024
    # the stream cap's slack on a call's held output (docs/billing.md): a percentage of it,
    # at least so many tokens; held with the call, so the cap never costs a funded user more
    stream_cap_slack_percent: int = Field(default=20, ge=0)
    stream_cap_slack_tokens: int = Field(default=64, ge=0)
    route_multipliers: dict[str, Decimal] = Field(
        default_factory=lambda: {"cc-omg": Decimal("0.2"), "codex-omg": Decimal("0.2")}
    )
    flex_multiplier: Decimal = Decimal("0.5")
    # price multiplier per user group (a user's "group", set by the operator); none by default
    group_multipliers: dict[str, Decimal] = Field(default_factory=dict)
    # membership by cumulative top-up, from the first payment: [[level, min_topup, months]]
    membership_tiers: list[tuple[str, Decimal, int]] = Field(
        default_factory=lambda: [
            ("vip", Decimal(20), 1),
            ("vip", Decimal(40), 6),
            ("premium", Decimal(300), 12),
        ]
    )
    # requests per minute by cumulative top-up (currency units): [[min_topup, rpm], ...]
    rate_limit_tiers: list[tuple[Decimal, int]] = Field(
        default_factory=lambda: [(Decimal(0), 60), (Decimal(20), 1000), (Decimal(300), 10000)]
    )
    # the two tables above and referral_* are defaults: the operator's saved values win
    # (docs/console.md); other replicas see a save within this many seconds
    tier_refresh_interval: float = Field(default=1.0, gt=0)

    # sign-in by email and referral rewards (docs/signup-referral.md)
    login_token_minutes: int = Field(default=15, ge=1)
    session_days: int = Field(default=30, ge=1)  # a session's absolute lifetime
    session_idle_days: int = Field(default=7, ge=1)  # unused this long, a session ends
    session_cookie_secure: bool = False  # Secure cookies even on http (behind a TLS proxy)
    smtp_host: str = ""  # empty: links go to the log (and the operator outbox)
    smtp_port: int = 587
    smtp_user: str = ""
    smtp_password: SecretStr | None = None
    smtp_from: str = "relaygate@localhost"
    smtp_starttls: bool = True
    smtp_ca_file: str = ""  # a CA bundle for a mail server with a private CA (STARTTLS)
    # sign-in links asked for per window (docs/sign-in.md); 0 turns one off. The client IP
    # is the socket peer, or the forwarded one when trust_proxy_headers is on.
    login_per_address_per_minute: int = Field(default=5, ge=0)
    login_per_ip_per_minute: int = Field(default=10, ge=0)
    login_per_ip_per_hour: int = Field(default=50, ge=0)
    # redemption-code attempts per window (docs/payments.md); 0 turns one off
    redeem_per_user_per_minute: int = Field(default=10, ge=0)
    redeem_per_user_per_hour: int = Field(default=50, ge=0)
    redeem_per_ip_per_minute: int = Field(default=30, ge=0)
    # the site's name in sign-in mails and as the passkeys' relying party name
    site_name: str = "Relaygate"
    # passkeys (docs/sign-in.md): the domain they are bound to and the origins allowed to
    # use them; empty: the host and the origin of the public URL
    passkey_rp_id: str = ""
    passkey_origins: list[str] = Field(default_factory=list)
    passkey_challenge_seconds: int = Field(default=300, ge=10)
    referral_package_type: str = "$20 Claude Code"
    referral_allowed_domains: list[str] = Field(default_factory=list)  # empty: any domain
    referral_denied_domains: list[str] = Field(
        default_factory=lambda: [
            "mailinator.com",
            "guerrillamail.com",
            "yopmail.com",
            "10minutemail.com",
            "temp-mail.org",
        ]
    )
    referral_redeem_days: int = Field(default=7, ge=0)
    # the OAuth open API (docs/oauth.md): how long an authorization code lives, and the
    # operator's commission on what apps charge users (a percentage, exact)
    oauth_code_seconds: int = Field(default=300, ge=60, le=600)
    oauth_commission_percent: Decimal = Field(default=Decimal(5), ge=0, le=100)
    # override rules (docs/rules.md): the rules a user may keep and the actions a rule may
    # hold; per membership tier ("free", "vip", "premium") where the tables name one
    rules_max_per_user: int = Field(default=50, ge=0, le=100_000)
    rules_max_actions: int = Field(default=20, ge=1, le=20)
    rules_max_per_user_by_tier: dict[str, int] = Field(
        default_factory=lambda: {"vip": 200, "premium": 500}
    )
    rules_max_actions_by_tier: dict[str, int] = Field(default_factory=dict)

    # state the gateway owns: stored responses, conversations, chat completions (docs/state.md)
    state_max_item_bytes: int = Field(default=8 * 1024 * 1024, ge=1024)
    state_retention_days: int = Field(default=0, ge=0)  # 0: keep until deleted
    state_sweep_interval: float = Field(default=3600.0, gt=0)
    # background responses (docs/state.md): seconds a run may take to finish at shutdown;
    # its lease in the kv, after which a running response without a live run is failed
    responses_background_grace: float = Field(default=10.0, ge=0)
    responses_background_lease: float = Field(default=30.0, gt=0)
    # the key that seals the compaction items Relaygate makes (docs/state.md): unset, a
    # random one is generated on first start and kept in the database (server_secrets)
    compaction_secret: SecretStr | None = None

    # ``ohmygpt_webhook_url`` of the image routes (docs/media.md): seconds one POST may
    # take; whether it may go to loopback/private/link-local addresses (off: SSRF guard);
    # seconds a shutdown waits for webhooks still being sent before it cancels them
    webhook_timeout: float = Field(default=10.0, gt=0)
    webhook_allow_private: bool = False
    webhook_shutdown_grace: float = Field(default=5.0, ge=0)

    # Stripe top-ups (docs/payments.md): off unless the secret key is set. The currency is
    # the balance's; amounts are in its units ("20", "9.5"); the URLs default to the
    # console's Billing page; the API base is Stripe's unless set (the tests' fake Stripe)
    stripe_secret_key: SecretStr | None = None
    stripe_webhook_secret: SecretStr | None = None
    stripe_api_base: str = ""
    stripe_webhook_tolerance: int = Field(default=300, ge=1)
    payments_currency: str = Field(default="usd", min_length=3, max_length=3)
    payments_amount_options: list[str] = Field(default_factory=lambda: ["10", "20", "50", "100"])
    payments_min_amount: str = "1"
    payments_max_amount: str = "10000"
    payments_success_url: str = ""
    payments_cancel_url: str = ""
    # invoices on paid top-ups (docs/invoices.md): the issuer printed on every PDF (issuing
    # is refused until the name is set) and the numbers' prefix: <prefix>-<year>-<000001>
    invoice_issuer_name: str = Field(default="", max_length=200)
    invoice_issuer_address: str = Field(default="", max_length=500)
    invoice_issuer_tax_id: str = Field(default="", max_length=64)
    invoice_prefix: str = Field(default="INV", pattern=r"^[A-Za-z0-9][A-Za-z0-9_-]{0,15}$")

    # files (docs/storage.md): where their bytes live (file://dir or s3://bucket/prefix?
    # endpoint=...&region=...; empty: a "files" directory beside the SQLite database, or
    # ./files), the S3 credentials (empty: botocore's own chain), bytes per file and per
    # user by membership tier (free, vip, premium; a tier not listed gets the plain value),
    # the price per GB-day (currency units; 0: free) and the expiry sweep's period
    blob_url: str = ""
    blob_access_key_id: str = ""
    blob_secret_access_key: SecretStr | None = None
    blob_region: str = ""
    files_max_bytes: int = Field(default=100 * 1024**2, ge=0)
    files_max_bytes_by_tier: dict[str, int] = Field(
        default_factory=lambda: {"vip": 1024**3, "premium": 5 * 1024**3}
    )
    files_quota_bytes: int = Field(default=1024**3, ge=0)
    files_quota_bytes_by_tier: dict[str, int] = Field(
        default_factory=lambda: {"vip": 20 * 1024**3, "premium": 100 * 1024**3}
    )
    files_price_per_gb_day: Decimal = Field(default=Decimal(0), ge=0)
    files_sweep_interval: float = Field(default=60.0, gt=0)
    # stored files as model inputs (docs/storage.md#files-as-model-inputs): bytes per file,
    # and per call in all; they are read whole and sent inline
    files_input_max_bytes: int = Field(default=20 * 1024**2, ge=0)
    files_input_max_total_bytes: int = Field(default=50 * 1024**2, ge=0)

    # the tools (docs/tools.md): seconds an identical search is answered from the search
    # cache (0: never), what a cached answer costs ("full", "free", or a percent of the
    # search's price such as "25"), and seconds the Azure voice list is kept
    search_cache_seconds: float = Field(default=0.0, ge=0, le=30 * 86400)
    search_cache_hit_billing: str = Field(
        default="full", pattern=r"^(full|free|100(\.0+)?%?|[1-9]?[0-9](\.[0-9]+)?%?)$"
    )
    tts_voices_cache_seconds: float = Field(default=3600.0, gt=0, le=30 * 86400)
    # the image tools (docs/tools.md, "Image generation"): seconds a call waits for its
    # images (the platform's CDN drops a connection at 100), seconds an async=true task
    # may take (under the holds' 900-second expiry), seconds a task's outcome is kept,
    # seconds before the first poll of an upstream task (each next wait 1.5 times longer,
    # up to 4), and the largest image downloaded to be stored, within its own timeout
    tools_task_timeout_seconds: float = Field(default=90.0, gt=0, le=840)
    tools_task_async_timeout_seconds: float = Field(default=600.0, gt=0, le=840)
    tools_task_keep_seconds: float = Field(default=86400.0, gt=0, le=30 * 86400)
    tools_task_poll_seconds: float = Field(default=0.5, gt=0, le=60)
    tools_image_max_bytes: int = Field(default=20 * 1024**2, ge=1)
    tools_image_download_seconds: float = Field(default=30.0, gt=0, le=600)

    channels: list[ChannelConfig] = Field(default_factory=list)
    models: list[ModelPriceConfig] = Field(default_factory=list)

    @field_validator("metrics_allow")
    @classmethod
    def _networks(cls, value: list[str]) -> list[str]:
        """Each entry an address or a network (``10.0.0.0/8``): a typo stops the start."""
        for entry in value:
            ipaddress.ip_network(entry, strict=False)  # ValueError names the bad entry
        return value

    @field_validator("client_ip_header", mode="before")
    @classmethod
    def _header_name(cls, value: Any) -> Any:
        """Header names are case-insensitive: ``CF-Connecting-IP`` as Cloudflare writes it."""
        return value.strip().lower() if isinstance(value, str) else value

    @property
    def base_url(self) -> str:
        return self.public_url or f"http://{self.host}:{self.port}"

    @property
    def effective_blob_url(self) -> str:
        """``blob_url``, or by default a ``files`` directory beside the SQLite database
        (``make run``: ./files), or ./files beside a PostgreSQL deployment's process."""
        if self.blob_url:
            return self.blob_url
        scheme, _, rest = self.database_url.partition("://")
        path = rest.removeprefix("/") if scheme.startswith("sqlite") else ""
        if path and path != ":memory:" and not path.startswith("file:"):
            return f"file://{Path(path).parent / 'files'}"
        return "file://files"


def _resolve_key_env(channel: dict[str, Any]) -> dict[str, Any]:
    env_name = channel.get("api_key_env")
    if env_name and not channel.get("api_key"):
        channel = {**channel, "api_key": os.environ.get(env_name, "")}
    return channel


def load_settings(config_file: Path | None = None, **overrides: Any) -> Settings:
    """Build the settings from file, environment and explicit overrides (in that order)."""
    file_values: dict[str, Any] = {}
    if config_file is not None:
        document = tomllib.loads(config_file.read_text())
        file_values = dict(document.get("settings", {}))
        file_values["channels"] = [_resolve_key_env(c) for c in document.get("channels", [])]
        file_values["models"] = document.get("models", [])
    merged = {**file_values, **_from_environment()}
    merged.update({k: v for k, v in overrides.items() if v is not None})
    return Settings(**merged)


_ENV_PREFIX = "relaygate_"


def _structured(annotation: Any) -> bool:
    """A list, tuple, set, dict or model field: its variable holds JSON."""
    origin = typing.get_origin(annotation)
    if origin in (typing.Union, types.UnionType):
        return any(_structured(arg) for arg in typing.get_args(annotation) if arg is not None)
    if origin in (list, tuple, set, frozenset, dict):
        return True
    return isinstance(annotation, type) and issubclass(annotation, BaseModel)


def _from_environment() -> dict[str, Any]:
    """``RELAYGATE_<FIELD>`` variables (any case), as pydantic-settings read them: plain
    text for scalars, JSON for lists, tables and tuples. Read here by hand because the
    library costs 1.3 MB of resident memory for this one loop (docs/benchmarks.md)."""
    found = {
        name.lower()[len(_ENV_PREFIX) :]: value
        for name, value in os.environ.items()
        if name.lower().startswith(_ENV_PREFIX)
    }
    values: dict[str, Any] = {}
    for name, field in Settings.model_fields.items():
        raw = found.get(name)
        if raw is None:
            continue
        if _structured(field.annotation):
            try:
                values[name] = json.loads(raw)
            except ValueError as exc:
                raise ValueError(f"RELAYGATE_{name.upper()} must be JSON: {exc}") from exc
        else:
            values[name] = raw
    return values
