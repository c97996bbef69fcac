"""The typed bundle of the gateway's services, and how a route is given one.

The composition root (app.py) builds one ``Services`` in its lifespan and hands it to every
request through the ASGI lifespan state; nothing else reads that slot. Routes declare what
they need with the ``Annotated`` aliases below (``svc: AccountsDep``), so mypy checks every
use and a misspelt service fails the type check, not a request.

The capability route modules (``*/api.py``, ``*_api.py``) import this module although it
sits above their packages: they are the edge the composition root mounts (see the
``ignore_imports`` of the layers contract in pyproject.toml). Nothing else below may.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, Request

from relaygate.accounts.audit import AuditTrail
from relaygate.accounts.passkeys import PasskeyService
from relaygate.accounts.service import AccountService
from relaygate.accounts.sessions import BrowserSessions
from relaygate.accounts.signup import SignupService
from relaygate.billing.catalogue import CatalogueService
from relaygate.billing.charging import Charging
from relaygate.billing.console_reads import ConsoleReads
from relaygate.billing.ledger import LedgerService
from relaygate.billing.packages import PackageService
from relaygate.billing.redemption import RedemptionService
from relaygate.billing.referrals import ReferralService
from relaygate.billing.service import UsageService
from relaygate.billing.tier_config import TierConfig
from relaygate.channels.health import ChannelHealth
from relaygate.channels.service import ChannelService
from relaygate.core.drain import Drain
from relaygate.db.health import DatabaseProbe
from relaygate.kv.protocols import KV
from relaygate.oauth.service import OAuthService
from relaygate.ops.metrics import Metrics
from relaygate.payments.invoices import InvoiceService
from relaygate.payments.service import PaymentService
from relaygate.relay.background import BackgroundRuns
from relaygate.relay.keyring import KeyRing
from relaygate.relay.media.webhook import WebhookSender
from relaygate.relay.probe import ChannelProber
from relaygate.relay.service import RelayService
from relaygate.relay.streaming import KeepAlive
from relaygate.rules.service import RuleService
from relaygate.settings import Settings
from relaygate.state.service import StateService
from relaygate.storage.service import FileService

__all__ = [
    "SERVICES",
    "AccountsDep",
    "AuditDep",
    "ChannelHealthDep",
    "ChannelTesterDep",
    "ChannelsDep",
    "ChargingDep",
    "ConsoleReadsDep",
    "InvoicesDep",
    "FilesDep",
    "KVDep",
    "KeyRingDep",
    "LedgerDep",
    "OAuthDep",
    "PackagesDep",
    "RedemptionsDep",
    "PasskeysDep",
    "PaymentsDep",
    "PricesDep",
    "ReferralsDep",
    "RulesDep",
    "Services",
    "ServicesDep",
    "SessionsDep",
    "SignupDep",
    "StateDep",
    "TiersDep",
    "UsageDep",
]

SERVICES = "services"  # the key of the lifespan state (``request.state.services``)


@dataclass(frozen=True, slots=True)
class Services:
    """Every service a route or the relay uses, one of each per process, built by app.py."""

    kv: KV  # the routes' own throttles; the services hold their parts of it
    accounts: AccountService
    signup: SignupService
    passkeys: PasskeyService
    sessions: BrowserSessions  # the console's browser sessions (signup opens them)
    referrals: ReferralService
    ledger: LedgerService
    prices: CatalogueService
    charging: Charging
    packages: PackageService
    redemptions: RedemptionService  # redemption codes
    usage: UsageService
    channels: ChannelService
    channel_health: ChannelHealth  # this replica's breakers
    key_ring: KeyRing  # which upstream keys are benched
    channel_tester: ChannelProber
    state: StateService
    relay: RelayService
    background: BackgroundRuns  # the runs of ``background: true`` responses
    keepalive: KeepAlive
    webhooks: WebhookSender  # the image calls' ``ohmygpt_webhook_url``
    audit: AuditTrail  # the trail of changes (the services write it; pages read it)
    console: ConsoleReads  # the console pages' read models
    oauth: OAuthService  # third-party apps: registry, grants, charges (docs/oauth.md)
    payments: PaymentService  # top-up orders (off, saying so, without a Stripe key)
    invoices: InvoiceService  # invoices on paid top-ups (docs/invoices.md)
    rules: RuleService  # the users' override rules (docs/rules.md)
    tiers: TierConfig  # membership, RPM and referral tables: settings or operator's
    files: FileService  # stored files and their blob store (docs/storage.md)
    settings: Settings  # the effective settings (the operator's read-only settings page)
    # the readiness probe's (web/probes.py): the database's answer, and SIGTERM's flag
    database_probe: DatabaseProbe
    drain: Drain
    metrics: Metrics | None = None  # Prometheus metrics (None: metrics_enabled is off)


def services(request: Request) -> Services:
    """The one reader of the lifespan state's slot (put there by app.py's lifespan)."""
    found: Services = getattr(request.state, SERVICES)
    return found


ServicesDep = Annotated[Services, Depends(services)]


def _kv(s: ServicesDep) -> KV:
    return s.kv


def _accounts(s: ServicesDep) -> AccountService:
    return s.accounts


def _signup(s: ServicesDep) -> SignupService:
    return s.signup


def _passkeys(s: ServicesDep) -> PasskeyService:
    return s.passkeys


def _sessions(s: ServicesDep) -> BrowserSessions:
    return s.sessions


def _referrals(s: ServicesDep) -> ReferralService:
    return s.referrals


def _ledger(s: ServicesDep) -> LedgerService:
    return s.ledger


def _prices(s: ServicesDep) -> CatalogueService:
    return s.prices


def _charging(s: ServicesDep) -> Charging:
    return s.charging


def _packages(s: ServicesDep) -> PackageService:
    return s.packages


def _redemptions(s: ServicesDep) -> RedemptionService:
    return s.redemptions


def _usage(s: ServicesDep) -> UsageService:
    return s.usage


def _channels(s: ServicesDep) -> ChannelService:
    return s.channels


def _channel_health(s: ServicesDep) -> ChannelHealth:
    return s.channel_health


def _key_ring(s: ServicesDep) -> KeyRing:
    return s.key_ring


def _channel_tester(s: ServicesDep) -> ChannelProber:
    return s.channel_tester


def _state(s: ServicesDep) -> StateService:
    return s.state


def _audit(s: ServicesDep) -> AuditTrail:
    return s.audit


def _console(s: ServicesDep) -> ConsoleReads:
    return s.console


def _oauth(s: ServicesDep) -> OAuthService:
    return s.oauth


def _payments(s: ServicesDep) -> PaymentService:
    return s.payments


def _invoices(s: ServicesDep) -> InvoiceService:
    return s.invoices


def _rules(s: ServicesDep) -> RuleService:
    return s.rules


def _files(s: ServicesDep) -> FileService:
    return s.files


KVDep = Annotated[KV, Depends(_kv)]
AccountsDep = Annotated[AccountService, Depends(_accounts)]
SignupDep = Annotated[SignupService, Depends(_signup)]
PasskeysDep = Annotated[PasskeyService, Depends(_passkeys)]
SessionsDep = Annotated[BrowserSessions, Depends(_sessions)]
ReferralsDep = Annotated[ReferralService, Depends(_referrals)]
LedgerDep = Annotated[LedgerService, Depends(_ledger)]
PricesDep = Annotated[CatalogueService, Depends(_prices)]
ChargingDep = Annotated[Charging, Depends(_charging)]
PackagesDep = Annotated[PackageService, Depends(_packages)]
RedemptionsDep = Annotated[RedemptionService, Depends(_redemptions)]
UsageDep = Annotated[UsageService, Depends(_usage)]
ChannelsDep = Annotated[ChannelService, Depends(_channels)]
ChannelHealthDep = Annotated[ChannelHealth, Depends(_channel_health)]
KeyRingDep = Annotated[KeyRing, Depends(_key_ring)]
ChannelTesterDep = Annotated[ChannelProber, Depends(_channel_tester)]
StateDep = Annotated[StateService, Depends(_state)]
AuditDep = Annotated[AuditTrail, Depends(_audit)]
ConsoleReadsDep = Annotated[ConsoleReads, Depends(_console)]
OAuthDep = Annotated[OAuthService, Depends(_oauth)]
PaymentsDep = Annotated[PaymentService, Depends(_payments)]
InvoicesDep = Annotated[InvoiceService, Depends(_invoices)]
RulesDep = Annotated[RuleService, Depends(_rules)]


def _tiers(s: ServicesDep) -> TierConfig:
    return s.tiers


TiersDep = Annotated[TierConfig, Depends(_tiers)]
FilesDep = Annotated[FileService, Depends(_files)]
