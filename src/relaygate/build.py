"""The composition root's builders: one per capability, each pairing what it starts with
its stop on the lifespan's exit stack.

Teardown therefore runs in the reverse order of construction: the background runs and
the image webhooks finish first (they bill and call out), the channel timers and the
state's sweep stop, then the keep-alive ticker, the bill writer (which drains its queue),
the kv, the upstream connections and, last, the database. A builder that fails leaves the
stack to stop whatever was started before it.
"""

from __future__ import annotations

import asyncio
import functools
from collections.abc import Awaitable, Callable
from contextlib import AsyncExitStack
from dataclasses import dataclass
from datetime import timedelta
from decimal import Decimal
from typing import Any
from urllib.parse import urlsplit

from relaygate.accounts.audit import AuditTrail
from relaygate.accounts.mailer import SMTPConfig, make_mailer
from relaygate.accounts.passkeys import PasskeyService, RelyingParty
from relaygate.accounts.service import AccountService
from relaygate.accounts.sessions import BrowserSessions
from relaygate.accounts.signup import LoginLimits, SignupService
from relaygate.billing.catalogue import Catalogue, CatalogueService
from relaygate.billing.charging import Charging
from relaygate.billing.console_reads import console_reads
from relaygate.billing.ledger import STORAGE, LedgerService
from relaygate.billing.membership import membership
from relaygate.billing.packages import PackageService
from relaygate.billing.redemption import RedeemLimits, RedemptionService
from relaygate.billing.referrals import ReferralService
from relaygate.billing.service import UsageService
from relaygate.billing.tier_config import TierConfig
from relaygate.billing.tier_rules import TierTables, default_tables
from relaygate.billing.writer import BillWriter
from relaygate.channels.health import ChannelHealth
from relaygate.channels.service import ChannelService
from relaygate.core.clock import utcnow
from relaygate.core.drain import Drain
from relaygate.core.money import parse_money
from relaygate.core.tasks import cancel_and_wait
from relaygate.db.engine import Database
from relaygate.db.health import DatabaseProbe
from relaygate.db.locks import STARTUP_LOCK, advisory_lock
from relaygate.db.migrate import upgrade_in_subprocess
from relaygate.kv.factory import open_kv
from relaygate.kv.protocols import KV
from relaygate.limits.service import RateLimiter
from relaygate.oauth.service import oauth_service
from relaygate.ops.metrics import ChannelReading, Metrics, Readings
from relaygate.payments.amounts import TopUpLimits
from relaygate.payments.invoice_pdf import Issuer
from relaygate.payments.invoices import InvoiceService
from relaygate.payments.service import PaymentService, PaymentURLs
from relaygate.relay.background import BackgroundRuns
from relaygate.relay.file_inputs import FileInputs
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
from relaygate.rules.cache import RuleCache
from relaygate.rules.enabled import users_with_rules
from relaygate.rules.limits import LimitConfig
from relaygate.rules.schema import MAX_ACTIONS
from relaygate.rules.service import RuleService
from relaygate.services import Services
from relaygate.settings import Settings
from relaygate.state.service import StateService
from relaygate.storage.factory import open_blobs
from relaygate.storage.service import FileLimits, FileService, StoragePrice
from relaygate.tools.providers import TOOL_PROBES, tool_providers
from relaygate.tools.tasks import TASK_PROBES, PollTimings, task_providers

__all__ = ["Built", "build", "default_tiers"]


@dataclass(frozen=True, slots=True)
class Built:
    """What the lifespan serves with."""

    services: Services
    admin_key: str | None  # the operator's management key when this start created it
    operator_link: str  # a one-use console sign-in link for the operator, printed at start


async def build(settings: Settings, stack: AsyncExitStack, drain: Drain | None = None) -> Built:
    """Every service, in dependency order, each stop on ``stack``; the declared operator,
    channels and prices written and published before anything starts serving. ``drain``
    is the server's shutdown flag (core/drain.py): its deadline ends the open streams."""
    drain = drain or Drain()
    db = await _database(settings, stack)
    client = _http_client(settings, stack)
    kv = _kv(settings, stack)
    metrics = Metrics() if settings.metrics_enabled else None
    billing = _billing(settings, stack, db, kv, metrics)
    await _tier_timer(settings, stack, billing.tiers)
    accounts = AccountService(db, settings.key_cache_ttl)
    signup, referrals = _signup(settings, db, kv, billing)
    stack.push_async_callback(signup.aclose)  # the sign-in mails still being sent
    passkeys = PasskeyService(db, kv.counters, relying_party(settings))
    routing = _routing(settings, db, kv, client)
    async with advisory_lock(db, STARTUP_LOCK):  # replicas starting together: one at a time
        admin_key = await _declare(settings, accounts, routing.channels, billing.prices)
    keepalive = _keepalive(settings, stack)
    drain.at_deadline(keepalive.end_streams)
    state = await _state(settings, stack, db, kv)
    _channel_timers(settings, stack, routing, billing.prices)
    rules = _rules(settings, db, billing)
    files = await _files(settings, stack, db, kv, billing)
    rule_cache = await _rule_cache(stack, db, kv, rules)
    relay = _relay(settings, kv, billing, routing, rule_cache, files, metrics)
    if metrics is not None:
        _metrics_readings(metrics, routing, billing.charging, relay)
    webhooks = _webhooks(settings, stack)
    background = _background(settings, stack, relay, state, kv, keepalive)
    services = Services(
        kv=kv,
        accounts=accounts,
        signup=signup,
        passkeys=passkeys,
        sessions=signup.sessions,
        referrals=referrals,
        ledger=billing.ledger,
        prices=billing.prices,
        charging=billing.charging,
        packages=billing.packages,
        redemptions=_redemptions(settings, db, kv, billing.charging),
        usage=billing.usage,
        channels=routing.channels,
        channel_health=routing.health,
        key_ring=routing.keys,
        channel_tester=routing.prober,
        state=state,
        relay=relay,
        background=background,
        keepalive=keepalive,
        webhooks=webhooks,
        audit=AuditTrail(db),
        console=console_reads(db, billing.charging.catalogue, billing.tiers),
        tiers=billing.tiers,
        oauth=oauth_service(
            db,
            settings.oauth_code_seconds,
            settings.oauth_commission_percent,
            billing.charging.forget,
            accounts.cache.invalidate,
        ),
        settings=settings,
        payments=_payments(settings, db, billing.charging),
        invoices=InvoiceService(
            db,
            Issuer(
                name=settings.invoice_issuer_name.strip(),
                address=settings.invoice_issuer_address.strip(),
                tax_id=settings.invoice_issuer_tax_id.strip(),
            ),
            settings.invoice_prefix,
        ),
        rules=rules,
        files=files,
        metrics=metrics,
        database_probe=DatabaseProbe(db),
        drain=drain,
    )
    return Built(services, admin_key, await signup.issue_link(settings.operator_email))


async def _database(settings: Settings, stack: AsyncExitStack) -> Database:
    """The database, migrated first when the operator lets the start do it."""
    if settings.migrate_on_start:
        await upgrade_in_subprocess(settings.database_url)
    db = Database(settings.database_url)
    stack.push_async_callback(db.dispose)
    return db


def _http_client(settings: Settings, stack: AsyncExitStack) -> HTTPClient:
    """The upstream connection pools, shared by every provider."""
    client = HTTPClient(settings.upstream_connect_timeout, settings.upstream_read_timeout)
    stack.push_async_callback(client.close)
    return client


def _kv(settings: Settings, stack: AsyncExitStack) -> KV:
    """Counters, rate windows, locks and pub/sub: in process, or Redis across replicas."""
    kv = open_kv(settings.kv_url, settings.kv_prefix)
    stack.push_async_callback(kv.close)
    return kv


@dataclass(frozen=True, slots=True)
class _Billing:
    ledger: LedgerService
    prices: CatalogueService
    packages: PackageService
    charging: Charging
    usage: UsageService
    tiers: TierConfig  # membership, RPM and referral tables: every consumer reads these


def default_tiers(settings: Settings) -> TierTables:
    """The settings' tier tables: the defaults until the operator saves an override."""
    return default_tables(
        settings.membership_tiers,
        settings.rate_limit_tiers,
        {
            "package_type": settings.referral_package_type,
            "allowed_domains": list(settings.referral_allowed_domains),
            "denied_domains": list(settings.referral_denied_domains),
            "redeem_days": settings.referral_redeem_days,
        },
    )


def _billing(
    settings: Settings, stack: AsyncExitStack, db: Database, kv: KV, metrics: Metrics | None
) -> _Billing:
    """Wallets, prices, packages and the bill writer (started: it drains at the close)."""
    writer = BillWriter(
        db, settings.usage_batch_size, metrics.committed if metrics is not None else None
    )
    writer.start()
    stack.push_async_callback(writer.close)
    catalogue = Catalogue(
        settings.route_multipliers, settings.flex_multiplier, settings.group_multipliers
    )
    ledger = LedgerService(db)
    packages = PackageService(db)
    tiers = TierConfig(db, kv.counters, default_tiers(settings), packages)
    charging = Charging(
        ledger, catalogue, writer, kv.counters, settings.balance_ttl, packages, tiers
    )
    return _Billing(
        ledger=ledger,
        prices=CatalogueService(db, catalogue, kv.counters),
        packages=packages,
        charging=charging,
        usage=UsageService(db),
        tiers=tiers,
    )


async def _tier_timer(settings: Settings, stack: AsyncExitStack, tiers: TierConfig) -> None:
    """The operator's stored tables read before serving, then the check for other
    replicas' edits (a kv counter, once per ``tier_refresh_interval``)."""
    await tiers.load()
    refresher = asyncio.create_task(tiers.refresh_every(settings.tier_refresh_interval))
    stack.push_async_callback(cancel_and_wait, refresher)


async def _files(
    settings: Settings, stack: AsyncExitStack, db: Database, kv: KV, billing: _Billing
) -> FileService:
    """Stored files: the blob store of ``blob_url``, limits by membership tier, the
    expiry sweep (and, when priced, the daily storage charge) on one replica per round."""
    secret = settings.blob_secret_access_key
    blobs = await open_blobs(
        settings.effective_blob_url,
        access_key_id=settings.blob_access_key_id,
        secret_access_key=secret.get_secret_value() if secret else "",
        region=settings.blob_region,
    )
    ledger, charging = billing.ledger, billing.charging

    async def charge(user_id: int, amount: int, request_id: str, memo: str) -> bool:
        done = await ledger.charge_once(user_id, amount, STORAGE, request_id, memo)
        if done:
            charging.forget(user_id)
        return done

    files = FileService(
        db,
        blobs,
        FileLimits(
            settings.files_max_bytes,
            settings.files_quota_bytes,
            dict(settings.files_max_bytes_by_tier),
            dict(settings.files_quota_bytes_by_tier),
        ),
        _membership_level(billing),
        leases=kv.counters,
        charge=charge,
        price=StoragePrice(parse_money(settings.files_price_per_gb_day)),
    )
    stack.push_async_callback(files.close)
    await files.start(settings.files_sweep_interval)
    return files


def _membership_level(billing: _Billing) -> Callable[[int], Awaitable[str]]:
    """A user's membership level now, for the capabilities whose limits go by tier (rules,
    files) and which may not import billing's membership rule themselves. It reads the
    tables of the moment: the operator may have edited them (billing/tier_config.py)."""
    ledger, charging = billing.ledger, billing.charging

    async def level(user_id: int) -> str:
        wallet = await ledger.balance(user_id)
        tiers = charging.membership_tiers
        return membership(wallet.topped_up_total, wallet.first_topup_at, utcnow(), tiers).level

    return level


def _payments(settings: Settings, db: Database, charging: Charging) -> PaymentService:
    """Top-up orders through Stripe; without its secret key the service says payments are
    off (every payment route answers 404 ``payments_not_configured``)."""
    provider = None
    if settings.stripe_secret_key is not None:
        webhook = settings.stripe_webhook_secret
        # imported here: the Stripe SDK costs ~100 ms and ~15 MB at start, for nothing when
        # payments are off (the default)
        from relaygate.payments.stripe import StripeProvider

        provider = StripeProvider(
            settings.stripe_secret_key.get_secret_value(),
            webhook.get_secret_value() if webhook else "",
            settings.stripe_api_base,
            settings.stripe_webhook_tolerance,
        )
    billing = settings.base_url + "/console/billing"
    limits = TopUpLimits(
        currency=settings.payments_currency.lower(),
        options=tuple(
            parse_money(o, "payments_amount_options") for o in settings.payments_amount_options
        ),
        minimum=parse_money(settings.payments_min_amount, "payments_min_amount"),
        maximum=parse_money(settings.payments_max_amount, "payments_max_amount"),
    )
    urls = PaymentURLs(
        success=settings.payments_success_url or billing + "?done=paid",
        cancel=settings.payments_cancel_url or billing + "?done=cancelled",
    )
    return PaymentService(db, provider, limits, urls, charging.forget)


def _rules(settings: Settings, db: Database, billing: _Billing) -> RuleService:
    """The users' override rules, limited by membership tier (the billing side knows a
    user's membership; the rules package may not import it)."""
    limits = LimitConfig(
        max_rules=settings.rules_max_per_user,
        max_actions=settings.rules_max_actions,
        max_rules_by_tier=dict(settings.rules_max_per_user_by_tier),
        max_actions_by_tier=dict(settings.rules_max_actions_by_tier),
        ceiling_actions=MAX_ACTIONS,
    )
    return RuleService(db, limits, _membership_level(billing))


async def _rule_cache(stack: AsyncExitStack, db: Database, kv: KV, rules: RuleService) -> RuleCache:
    """The relay's compiled rules per user; every committed change of a user's rules
    reaches it at once here, and the other replicas within a second (rules/cache.py)."""
    cache = RuleCache(rules.enabled_rules, kv.counters, functools.partial(users_with_rules, db))
    rules.on_change(cache.changed)
    await cache.start()
    stack.push_async_callback(cache.close)
    return cache


def _redemptions(settings: Settings, db: Database, kv: KV, charging: Charging) -> RedemptionService:
    """Redemption codes, throttled per user and per client IP."""
    limits = RedeemLimits(
        per_user_per_minute=settings.redeem_per_user_per_minute,
        per_user_per_hour=settings.redeem_per_user_per_hour,
        per_ip_per_minute=settings.redeem_per_ip_per_minute,
    )
    return RedemptionService(db, kv.rates, limits, charging.forget)


def _smtp(settings: Settings) -> SMTPConfig | None:
    """The mail server of the sign-in links; none: the links go to the log."""
    if not settings.smtp_host:
        return None
    password = settings.smtp_password.get_secret_value() if settings.smtp_password else ""
    return SMTPConfig(
        settings.smtp_host,
        settings.smtp_port,
        settings.smtp_user,
        password,
        settings.smtp_from,
        settings.smtp_starttls,
        ca_file=settings.smtp_ca_file,
    )


_LOOPBACK = frozenset({"127.0.0.1", "::1"})


def relying_party(settings: Settings) -> RelyingParty:
    """The passkeys' relying party: by default the public URL's host and origin. Browsers
    refuse an IP address as the relying party, so a gateway on a loopback address (``make
    run``'s 127.0.0.1) binds its passkeys to ``localhost``: they work from
    ``http://localhost:<port>``, which browsers treat as secure too."""
    base = urlsplit(settings.base_url)
    host = base.hostname or "localhost"
    origins = [f"{base.scheme}://{base.netloc}"]
    if host in _LOOPBACK:
        host = "localhost"
        origins.append(f"{base.scheme}://localhost" + (f":{base.port}" if base.port else ""))
    return RelyingParty(
        id=settings.passkey_rp_id or host,
        name=settings.site_name,
        origins=tuple(settings.passkey_origins or origins),
        challenge_ttl_s=settings.passkey_challenge_seconds,
    )


def _signup(
    settings: Settings, db: Database, kv: KV, billing: _Billing
) -> tuple[SignupService, ReferralService]:
    """Email sign-in and its referral rewards; billing listens for accounts' new users."""
    sessions = BrowserSessions(
        db,
        timedelta(days=settings.session_days),
        timedelta(days=settings.session_idle_days),
        settings.session_cookie_secure,
    )
    signup = SignupService(
        db,
        make_mailer(_smtp(settings)),
        settings.base_url,
        sessions,
        timedelta(minutes=settings.login_token_minutes),
        rates=kv.rates,
        limits=LoginLimits(
            per_address_per_minute=settings.login_per_address_per_minute,
            per_ip_per_minute=settings.login_per_ip_per_minute,
            per_ip_per_hour=settings.login_per_ip_per_hour,
        ),
        site=settings.site_name,
    )
    referrals = ReferralService(
        db, billing.packages, signup, billing.tiers, billing.charging.forget
    )
    signup.on_new_user(referrals.on_signup)
    return signup, referrals


@dataclass(frozen=True, slots=True)
class _Routing:
    """What picks and reaches a channel, fed every snapshot of the channel table."""

    channels: ChannelService
    router: Router
    providers: dict[str, Provider]  # by channel type (``ChannelSpec.type``)
    health: ChannelHealth  # the breakers
    prober: ChannelProber  # the channel tester
    keys: KeyRing


def _routing(settings: Settings, db: Database, kv: KV, client: HTTPClient) -> _Routing:
    """The channel table and what listens to it: the router and the channel tester."""
    channels = ChannelService(db, kv.counters)
    router = Router()
    providers: dict[str, Provider] = {
        "openai": OpenAIProvider(client),
        "azure_openai": AzureOpenAIProvider(client),
        "anthropic": AnthropicProvider(client),
        "echo": EchoProvider(),
        **tool_providers(client),  # search and speech (docs/tools.md)
        **task_providers(client, PollTimings(first=settings.tools_task_poll_seconds)),
    }
    health = ChannelHealth(settings.breaker_threshold, settings.breaker_cooldown)
    prober = ChannelProber(providers, health, {**TOOL_PROBES, **TASK_PROBES})
    channels.on_change(router.load)
    channels.on_change(prober.load)
    keys = KeyRing(settings.key_bench_seconds)
    return _Routing(
        channels=channels,
        router=router,
        providers=providers,
        health=health,
        prober=prober,
        keys=keys,
    )


def _channel_timers(
    settings: Settings, stack: AsyncExitStack, routing: _Routing, prices: CatalogueService
) -> None:
    """The periodic channel probes (when the operator turned them on), and the checks
    that bring other replicas' changes of the channel and price tables (kv counters)."""
    if settings.health_probe_interval > 0:
        probes = asyncio.create_task(
            routing.prober.probe_every(settings.health_probe_interval, settings.health_probe_all)
        )
        stack.push_async_callback(cancel_and_wait, probes)
    refresher = asyncio.create_task(
        routing.channels.refresh_every(settings.channel_refresh_interval)
    )
    stack.push_async_callback(cancel_and_wait, refresher)
    repricer = asyncio.create_task(prices.refresh_every(settings.price_refresh_interval))
    stack.push_async_callback(cancel_and_wait, repricer)


def _keepalive(settings: Settings, stack: AsyncExitStack) -> KeepAlive:
    """The one ticker behind every stream's keep-alive comments."""
    keepalive = KeepAlive(settings.stream_keepalive_interval)
    keepalive.start()
    stack.push_async_callback(keepalive.stop)
    return keepalive


async def _state(settings: Settings, stack: AsyncExitStack, db: Database, kv: KV) -> StateService:
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
    stack.push_async_callback(state.close)
    return state


def _relay(
    settings: Settings,
    kv: KV,
    billing: _Billing,
    routing: _Routing,
    rules: RuleCache,
    files: FileService,
    metrics: Metrics | None,
) -> RelayService:
    """The data plane's service: admission, rules, stored files as inputs, limits,
    routing, failover and billing."""
    return RelayService(
        routing.router,
        routing.providers,
        billing.charging,
        RateLimiter(kv.rates, kv.counters),
        billing.tiers,
        settings.default_output_estimate,
        routing.health,
        routing.keys,
        CapSlack(settings.stream_cap_slack_percent, settings.stream_cap_slack_tokens),
        first_byte_timeout=settings.upstream_read_timeout,  # the HTTP client's default too
        rules=rules,
        files=FileInputs(
            files, settings.files_input_max_bytes, settings.files_input_max_total_bytes
        ),
        metrics=metrics,
    )


def _metrics_readings(
    metrics: Metrics, routing: _Routing, charging: Charging, relay: RelayService
) -> None:
    """What a scrape reads (ops/metrics.py): the breakers of the channels of the latest
    snapshot, the holds, the calls in flight and the bill queue. Read at scrape time, so
    the relay's hot path pays nothing for them."""
    health, table = routing.health, routing.channels

    def read() -> Readings:
        channels = []
        for spec in table.snapshot:
            breaker = health.reading(spec.id)
            channels.append(
                ChannelReading(
                    spec.id, spec.name, spec.type, breaker.state, breaker.calls, breaker.errors
                )
            )
        return Readings(
            in_flight=relay.calls.in_flight,
            holds=charging.holding,
            held=charging.held,
            bills_pending=charging.writer.pending,
            channels=channels,
        )

    metrics.read_from(read)


def _webhooks(settings: Settings, stack: AsyncExitStack) -> WebhookSender:
    """The image calls' webhooks; the close gives the pending ones a grace period."""
    webhooks = WebhookSender(settings.webhook_timeout, settings.webhook_allow_private)
    stack.push_async_callback(webhooks.close, settings.webhook_shutdown_grace)
    return webhooks


def _background(
    settings: Settings,
    stack: AsyncExitStack,
    relay: RelayService,
    state: StateService,
    kv: KV,
    keepalive: KeepAlive,
) -> BackgroundRuns:
    """The runner of ``background: true`` responses, leases in the kv; its close finishes
    or fails the running ones, bills and all."""
    background = BackgroundRuns(
        relay,
        state,
        kv.counters,
        keepalive,
        grace=settings.responses_background_grace,
        lease=settings.responses_background_lease,
    )
    background.start()
    stack.push_async_callback(background.close)
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
