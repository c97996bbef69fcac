"""Everything known about one relayed call, filled in as the pipeline runs.

It becomes the call's usage record at the end, whatever happened: that is how a failed,
refused or interrupted call still leaves a bill row.
"""

from __future__ import annotations

import functools
import time
from dataclasses import dataclass, field
from decimal import Decimal

from relaygate.billing.charging import Charge, Reservation
from relaygate.billing.usage_row import UsageRow
from relaygate.channels.spec import ChannelSpec
from relaygate.core.clock import utcnow
from relaygate.core.redact import redact
from relaygate.relay.canonical import Usage
from relaygate.relay.masking import channel_secrets
from relaygate.relay.output_cap import OutputBudget
from relaygate.relay.providers.base import HeaderEdits

__all__ = ["CallContext"]

CLIENT_CLOSED = 499


@dataclass(slots=True)
class CallContext:
    request_id: str
    endpoint: str
    client_ip: str
    route_group: str = ""  # the route group the call came in through ("" for /v1)
    started: float = field(default_factory=time.perf_counter)
    user_id: int | None = None
    key_id: int | None = None
    model: str = ""
    upstream_model: str = ""
    channel_id: int | None = None
    channel: ChannelSpec | None = None  # the channel called: its secrets are masked (mask)
    attempts: int = 0  # upstream calls made for this request (failovers included)
    # a stream began: the channel's breaker hears how it ended (CallLifecycle.finish,
    # RelayService.broke)
    outcome_pending: bool = False
    stream: bool = False
    status: int = 0
    error: str | None = None
    usage: Usage | None = None
    rurt_ms: int = 0
    ttfb_ms: int | None = None
    client_gone: bool = False
    responded: bool = False  # the answer is complete on the wire (or being sent whole)
    reservation: Reservation | None = None
    budget: OutputBudget | None = None  # what a stream may deliver before it is stopped
    charge: Charge | None = None
    settled: bool = False
    key_tpm: int | None = None  # the key's tokens-per-minute limit, when it has one
    tokens_counted: int = 0  # tokens admission already counted against it
    headers: list[tuple[bytes, bytes]] = field(default_factory=list)  # x-request-id and limits
    rules: tuple[int, ...] = ()  # the caller's override rules that fired (docs/rules.md)
    header_edits: HeaderEdits | None = None  # what those rules do to the upstream headers

    def elapsed_ms(self) -> int:
        return int((time.perf_counter() - self.started) * 1000)

    def mask(self, text: str) -> str:
        """Upstream text without the channel's secrets, key-like tokens, hosts and
        upstream model name (core.redact): for the client, the record and the logs."""
        return redact(text, channel_secrets(self.channel, self.upstream_model, self.model))

    def fail(self, status: int, message: str) -> None:
        """The call failed; ``message`` becomes the usage record's ``error``, masked
        (it may quote the upstream)."""
        self.status = status
        self.error = self.mask(message)[:2000]

    def record(self) -> UsageRow:
        """The call's usage row (``billing.usage_row``)."""
        usage = self.usage or _NO_USAGE
        money = self.charge or _UNCHARGED
        rates = money.multipliers
        return UsageRow(
            request_id=self.request_id,
            created_at=utcnow(),
            user_id=self.user_id,
            key_id=self.key_id,
            model=self.model,
            upstream_model=self.upstream_model,
            channel_id=self.channel_id,
            endpoint=self.endpoint,
            status=self.status,
            stream=self.stream,
            prompt_tokens=usage.prompt_tokens,
            completion_tokens=usage.completion_tokens,
            cached_tokens=usage.cached_tokens,
            reasoning_tokens=usage.reasoning_tokens,
            usage_estimated=usage.estimated,
            rurt_ms=self.rurt_ms,
            ttfb_ms=self.ttfb_ms,
            duration_ms=self.elapsed_ms(),
            client_ip=self.client_ip,
            error=self.error,
            official_cost=money.official,
            amount=money.amount,
            free_amount=money.free,
            multiplier=str(money.multiplier),
            package_amount=money.package_total,
            attempts=self.attempts,
            images=usage.images,
            characters=usage.characters,
            audio_ms=usage.audio_ms,
            route_group=self.route_group,
            model_multiplier=_exact(rates.model),
            route_multiplier=_exact(rates.route),
            tier_multiplier=_exact(rates.tier),
            group_multiplier=_exact(rates.group),
            rules=",".join(map(str, self.rules)) if self.rules else None,
        )


# what an unmetered, uncharged call records (never mutated: record() only reads them)
_NO_USAGE = Usage()
_UNCHARGED = Charge(0, 0, 0, 0, Decimal(1))


@functools.lru_cache(maxsize=64)  # a handful of configured rates: 0.1 µs instead of 0.7
def _exact(value: Decimal) -> str:
    text = format(value.normalize(), "f")
    return "0" if text in ("-0", "") else text
