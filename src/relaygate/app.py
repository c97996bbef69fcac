"""The composition root: ``create_app(settings)`` builds every service, and nothing else does.

The returned ASGI app sends the relay routes straight to their raw handlers and everything
else (operator API, docs, pages) to the FastAPI control plane, whose lifespan builds and
tears down the services.
"""

from __future__ import annotations

import asyncio
import gc
import logging
from collections.abc import AsyncIterator, MutableMapping
from contextlib import asynccontextmanager
from datetime import timedelta
from decimal import Decimal
from typing import Any

from fastapi import FastAPI

from relaygate import __version__
from relaygate.accounts.api import router as accounts_router
from relaygate.accounts.mailer import SMTPConfig, make_mailer
from relaygate.accounts.service import AccountService
from relaygate.accounts.signup import SignupService
from relaygate.accounts.signup_api import router as signup_router
from relaygate.accounts.user_api import router as user_keys_router
from relaygate.billing.api import router as usage_router
from relaygate.billing.bills_api import router as bills_router
from relaygate.billing.catalogue import Catalogue, CatalogueService
from relaygate.billing.charging import Charging
from relaygate.billing.ledger import LedgerService
from relaygate.billing.membership import MembershipTier
from relaygate.billing.package_api import router as packages_router
from relaygate.billing.packages import PackageService
from relaygate.billing.referral_api import router as referral_router
from relaygate.billing.referrals import ReferralRules, ReferralService
from relaygate.billing.service import UsageService
from relaygate.billing.writer import BillWriter
from relaygate.channels.api import router as channels_router
from relaygate.channels.health import ChannelHealth
from relaygate.channels.service import ChannelService
from relaygate.core.ids import new_request_id
from relaygate.core.money import parse_money
from relaygate.core.tasks import cancel_and_wait
from relaygate.db.engine import Database
from relaygate.db.migrate import upgrade_in_subprocess
from relaygate.kv.factory import open_kv
from relaygate.kv.protocols import KV
from relaygate.limits.policy import tiers_from_units
from relaygate.limits.service import RateLimiter
from relaygate.relay.api import RelayApp
from relaygate.relay.asgi import Receive, Scope, Send
from relaygate.relay.background import BackgroundRuns
from relaygate.relay.keyring import KeyRing
from relaygate.relay.media.webhook import WebhookSender
from relaygate.relay.output_cap import CapSlack
from relaygate.relay.probe import ChannelProber
from relaygate.relay.providers.anthropic import AnthropicProvider
from relaygate.relay.providers.azure import AzureOpenAIProvider
from relaygate.relay.providers.base import Provider
from relaygate.relay.providers.echo import EchoProvider
from relaygate.relay.providers.openai import OpenAIProvider
from relaygate.relay.routing import Router
from relaygate.relay.service import RelayService
from relaygate.relay.streaming import KeepAlive
from relaygate.relay.transport import HTTPClient
from relaygate.settings import Settings
from relaygate.state.api import router as state_router
from relaygate.state.service import StateService
from relaygate.web.cors import Cors, request_origin
from relaygate.web.docs import OPENAPI_URL
from relaygate.web.docs import router as docs_router
from relaygate.web.openapi import build_openapi
from relaygate.web.pages import router as pages_router
from relaygate.web.platform import install_error_handlers
from relaygate.web.static import check_assets
from relaygate.web.static import router as assets_router

__all__ = ["Gateway", "create_app"]

log = logging.getLogger("relaygate")


class Gateway:
    """The ASGI entry point: relay routes first, the control plane for the rest."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.relay: RelayApp | None = None
        self.control = _control_plane(self)
        self.cors = Cors(settings.cors_origins, settings.cors_platform_origins)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            origin = request_origin(scope)
            if origin is not None:  # a browser page's call: web/cors.py
                if scope["method"] == "OPTIONS" and await self.cors.preflight(scope, origin, send):
                    return
                send = self.cors.wrap(scope, origin, send)
            if self.relay is not None:
                handler = self.relay.route(scope)
                if handler is not None:
                    await handler(scope, receive, send)
                    return
                send = _with_request_id(send)
        await self.control(scope, receive, send)


def _with_request_id(send: Send) -> Send:
    """Give control-plane responses an ``x-request-id`` too, as relay responses have."""
    request_id = new_request_id().encode()

    async def send_with_id(message: MutableMapping[str, Any]) -> None:
        if message["type"] == "http.response.start":
            message["headers"] = [*message.get("headers", []), (b"x-request-id", request_id)]
        await send(message)

    return send_with_id


def _signup(
    settings: Settings, db: Database, packages: PackageService, charging: Charging
) -> tuple[SignupService, ReferralService]:
    """Email sign-in and its referral rewards; billing listens for accounts' new users."""
    smtp = None
    if settings.smtp_host:
        password = settings.smtp_password.get_secret_value() if settings.smtp_password else ""
        smtp = SMTPConfig(
            settings.smtp_host,
            settings.smtp_port,
            settings.smtp_user,
            password,
            settings.smtp_from,
            settings.smtp_starttls,
        )
    signup = SignupService(
        db,
        make_mailer(smtp),
        settings.base_url,
        timedelta(minutes=settings.login_token_minutes),
        timedelta(days=settings.session_days),
    )
    rules = ReferralRules(
        package_type=settings.referral_package_type,
        allowed_domains=list(settings.referral_allowed_domains),
        denied_domains=list(settings.referral_denied_domains),
        redeem_window=timedelta(days=settings.referral_redeem_days),
    )
    referrals = ReferralService(db, packages, signup, rules, charging.forget)
    signup.on_new_user(referrals.on_signup)
    return signup, referrals


async def _state(settings: Settings, db: Database, kv: KV) -> StateService:
    """Stored responses, conversations and chat completions, with their retention sweep
    and the background responses' signals (over the kv's pub/sub)."""
    state = StateService(
        db,
        max_item_bytes=settings.state_max_item_bytes,
        retention_days=settings.state_retention_days,
        pubsub=kv.pubsub,
        compaction_secret=(
            settings.compaction_secret.get_secret_value() if settings.compaction_secret else None
        ),
    )
    await state.start(settings.state_sweep_interval)
    return state


def _background(
    settings: Settings, relay: RelayService, state: StateService, kv: KV, keepalive: KeepAlive
) -> BackgroundRuns:
    """The runner of ``background: true`` responses, leases in the kv, started."""
    background = BackgroundRuns(
        relay,
        state,
        kv.counters,
        keepalive,
        grace=settings.responses_background_grace,
        lease=settings.responses_background_lease,
    )
    background.start()
    return background


def _declared_prices(settings: Settings) -> list[tuple[str, dict[str, Any]]]:
    """The ``[[models]]`` of the config file as catalogue rows (money in micro-units)."""

    def micro(value: Decimal | None) -> int | None:
        return None if value is None else parse_money(value)

    return [
        (
            m.name,
            {
                "input": parse_money(m.input),
                "output": parse_money(m.output),
                "cached_input": micro(m.cached_input),
                "cache_write": micro(m.cache_write),
                "reasoning": micro(m.reasoning),
                "per_call": parse_money(m.per_call),
                "per_image": parse_money(m.per_image),
                "per_character": parse_money(m.per_character),
                "per_second": parse_money(m.per_second),
                "multiplier": str(m.multiplier),
                "flex": m.flex,
                "vip_only": m.vip_only,
            },
        )
        for m in settings.models
    ]


async def _declare(
    settings: Settings, accounts: AccountService, channels: ChannelService, prices: CatalogueService
) -> str | None:
    """The operator, channels and prices the settings declare; the admin key if new."""
    bootstrap_key = (
        settings.bootstrap_admin_key.get_secret_value() if settings.bootstrap_admin_key else None
    )
    boot = await accounts.bootstrap(settings.operator_email, bootstrap_key)
    await channels.sync_declared(
        [c.model_dump(exclude={"api_key_env"}) for c in settings.channels],
        echo=settings.echo_channel,
    )
    await channels.publish()
    await prices.sync_declared(_declared_prices(settings))
    await prices.publish()
    return boot.admin_key


def _announce(settings: Settings, admin_key: str | None) -> None:
    base = settings.base_url
    lines = [
        f"Relaygate {__version__} is listening on {base}",
        f"  OpenAI- and Anthropic-compatible API: {base}/v1",
        f"  API docs: {base}/docs  {base}/redoc",
        f"  OpenAPI document: {base}/openapi.json",
    ]
    if admin_key:
        lines += ["", "  Operator (admin) key, shown once; keep it safe:", f"    {admin_key}", ""]
    print("\n".join(lines), flush=True)


@asynccontextmanager
async def _lifespan(gateway: Gateway, app: FastAPI) -> AsyncIterator[None]:
    settings = gateway.settings
    if settings.migrate_on_start:
        await upgrade_in_subprocess(settings.database_url)
    db = Database(settings.database_url)
    accounts = AccountService(db, settings.key_cache_ttl)
    channels = ChannelService(db)
    writer = BillWriter(db, settings.usage_batch_size)
    kv = open_kv(settings.kv_url, settings.kv_prefix)
    catalogue = Catalogue(
        settings.route_multipliers, settings.flex_multiplier, settings.group_multipliers
    )
    prices = CatalogueService(db, catalogue)
    ledger = LedgerService(db)
    tiers = [MembershipTier(n, parse_money(t), m) for n, t, m in settings.membership_tiers]
    packages = PackageService(db)
    charging = Charging(
        ledger, catalogue, writer, kv.counters, settings.balance_ttl, packages, tiers
    )
    signup, referrals = _signup(settings, db, packages, charging)
    keepalive = KeepAlive(settings.stream_keepalive_interval)
    client = HTTPClient(settings.upstream_connect_timeout, settings.upstream_read_timeout)
    router, providers, health, prober, keys = _routing(settings, client, channels, app)
    admin_key = await _declare(settings, accounts, channels, prices)
    app.state.accounts, app.state.channels, app.state.usage = accounts, channels, UsageService(db)
    app.state.prices, app.state.ledger, app.state.charging = prices, ledger, charging
    app.state.kv, app.state.packages = kv, packages
    app.state.signup, app.state.referrals = signup, referrals
    writer.start()
    keepalive.start()
    refresher = asyncio.create_task(channels.refresh_every(settings.channel_refresh_interval))
    probes = _probes(settings, prober)
    app.state.state_service = state = await _state(settings, db, kv)
    relay = RelayService(
        router,
        providers,
        charging,
        RateLimiter(kv.rates, kv.counters),
        tiers_from_units(settings.rate_limit_tiers),
        settings.default_output_estimate,
        health,
        keys,
        CapSlack(settings.stream_cap_slack_percent, settings.stream_cap_slack_tokens),
        first_byte_timeout=settings.upstream_read_timeout,  # the HTTP client's default too
    )
    background = _background(settings, relay, state, kv, keepalive)
    gateway.relay = RelayApp(
        relay,
        accounts,
        keepalive,
        state,
        background,
        webhooks := WebhookSender(settings.webhook_timeout, settings.webhook_allow_private),
        max_body_bytes=settings.max_body_bytes,
        max_header_bytes=settings.max_header_bytes,
    )
    # Everything built so far lives as long as the process: keep the collector from
    # scanning it again and again (full collections of a big heap stall every call).
    gc.collect()
    gc.freeze()
    _announce(settings, admin_key)
    try:
        yield
    finally:
        gateway.relay = None
        await background.close()  # finishes or fails the running ones, bills and all
        await webhooks.close(settings.webhook_shutdown_grace)  # the image calls' webhooks
        await cancel_and_wait(refresher)
        if probes is not None:
            await cancel_and_wait(probes)
        await state.close()
        await keepalive.stop()
        await writer.close()
        await kv.close()
        await client.close()
        await db.dispose()


def _routing(
    settings: Settings, client: HTTPClient, channels: ChannelService, app: FastAPI
) -> tuple[Router, dict[str, Provider], ChannelHealth, ChannelProber, KeyRing]:
    """What picks and reaches a channel: the router, one provider per channel type
    (``ChannelSpec.type``), the breakers, the key ring and the channel tester, fed every
    snapshot."""
    router = Router()
    providers: dict[str, Provider] = {
        "openai": OpenAIProvider(client),
        "azure_openai": AzureOpenAIProvider(client),
        "anthropic": AnthropicProvider(client),
        "echo": EchoProvider(),
    }
    app.state.channel_health = health = ChannelHealth(
        settings.breaker_threshold, settings.breaker_cooldown
    )
    app.state.channel_tester = prober = ChannelProber(providers, health)
    channels.on_change(router.load)
    channels.on_change(prober.load)
    app.state.key_ring = keys = KeyRing(settings.key_bench_seconds)
    return router, providers, health, prober, keys


def _probes(settings: Settings, prober: ChannelProber) -> asyncio.Task[None] | None:
    """The periodic channel probes, when the operator turned them on."""
    if settings.health_probe_interval <= 0:
        return None
    return asyncio.create_task(
        prober.probe_every(settings.health_probe_interval, settings.health_probe_all)
    )


def _control_plane(gateway: Gateway) -> FastAPI:
    check_assets()  # the docs pages' scripts: missing, the start fails and says what to run
    app = FastAPI(
        title="Relaygate",
        version=__version__,
        description="OpenAI-compatible relay and the operator's control API.",
        lifespan=lambda a: _lifespan(gateway, a),
        openapi_url=OPENAPI_URL,
        docs_url=None,  # web/docs.py serves /docs and /redoc on local assets
        redoc_url=None,
    )
    install_error_handlers(app)
    routers = (
        pages_router,
        docs_router,
        assets_router,
        accounts_router,
        user_keys_router,
        channels_router,
        usage_router,
        packages_router,
        bills_router,
        signup_router,
        referral_router,
        state_router,
    )
    for router in routers:
        app.include_router(router)

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            app.openapi_schema = build_openapi(app)
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]
    return app


def create_app(settings: Settings) -> Gateway:
    return Gateway(settings)
