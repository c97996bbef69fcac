"""Money on the relay's hot path: admit a call against the balance, then charge it.

Admission (``reserve``) refuses a caller whose balance is at or below zero with 402, even
if resource packages remain (the platform's rule), and otherwise places a *hold* for the
call's estimated cost. Holds live in the kv layer (in-process, or Redis across replicas)
with a time-to-live, so a crashed process's holds lapse; a call is admitted only while the
user's holds are below the balance, so firing many calls at once can overshoot zero by at
most one call's estimate.

Settlement (``settle``) prices the call from the upstream's usage, splits the charge
between free and paid balance (free first), releases the hold and hands the bill to the
group-commit writer. The operator's own account is the house: metered, never refused.

Balances are read from a per-process view refreshed every ``balance_ttl`` seconds and
corrected at once by this process's charges, including those not yet committed.
"""

from __future__ import annotations

import asyncio
import dataclasses
import json
import time
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from fractions import Fraction
from typing import Any

from relaygate.accounts.principal import Principal
from relaygate.billing.catalogue import Catalogue, Rated
from relaygate.billing.ledger import Balance, LedgerService, Split
from relaygate.billing.membership import MembershipTier, membership
from relaygate.billing.packages import PackageService, PackageView, split_official
from relaygate.billing.pricing import Multipliers, charge, official_cost
from relaygate.billing.tier_rules import DEFAULT_SOURCE, TierSource
from relaygate.billing.writer import Bill, BillWriter
from relaygate.core.clock import utcnow
from relaygate.core.errors import InsufficientBalance, PermissionDenied
from relaygate.core.units import Usage
from relaygate.kv.protocols import Counter

__all__ = ["Charge", "Charging", "Reservation", "INSUFFICIENT_BALANCE"]

INSUFFICIENT_BALANCE = (
    "User balance is insufficient, your request has been rejected, please recharge in time."
)
KEY_CAP_REACHED = "This API key has reached its spending limit (max_fee)."
_HOLD_TTL = 900.0  # seconds: the longest a hold outlives a process that died holding it
_WHOLE = Fraction(1)


@dataclass(slots=True)
class Reservation:
    user_id: int
    house: bool
    rated: Rated
    multipliers: Multipliers
    route: str = ""
    model: str = ""
    hold: int = 0
    key_id: int = 0
    key_capped: bool = False
    max_fee: int = 0  # the key's cap (0: none), for a hold that grows mid-stream
    # The part of the official price the call is billed at: 1, except for a search
    # answered from the cache, billed as the operator decided (docs/tools.md)
    share: Fraction = _WHOLE


@dataclass(frozen=True, slots=True)
class Charge:
    official: int  # at official prices, rounded
    amount: int  # charged (free part included)
    paid: int
    free: int
    multiplier: Decimal
    packages: tuple[tuple[int, int], ...] = ()  # (package id, amount at official price)
    multipliers: Multipliers = Multipliers()  # each factor of ``multiplier``, for the bill

    @property
    def package_total(self) -> int:
        return sum(amount for _, amount in self.packages)


@dataclass(slots=True)
class _KeySpend:
    """A capped key's committed spend as last read, plus this process's commits since."""

    committed: int
    read_at: float  # monotonic time of the read


@dataclass(slots=True)
class _View:
    """A user's balance and packages as of the last read, plus this process's charges
    committed since (applied as they land)."""

    balance: Balance
    packages: list[PackageView]
    loaded: float  # monotonic time of the read; 0: read again before use


class Charging:
    """The one place where a relay call meets money (module doc), kept in memory per
    process: the hot path must admit and price a call without a database round trip,
    yet never let a burst of calls spend more than the balance by more than one hold.
    The views it keeps are why there is one instance per process, shared by every
    route that charges."""

    def __init__(
        self,
        ledger: LedgerService,
        catalogue: Catalogue,
        writer: BillWriter,
        holds: Counter,
        balance_ttl: float,
        packages: PackageService,
        tiers: TierSource = DEFAULT_SOURCE,
    ) -> None:
        self.tiers = tiers  # the membership tiers, read at each use (tier_config.py)
        self.packages = packages
        self._package_pending: dict[int, int] = {}  # spent from a package, not committed
        self.ledger = ledger
        self.catalogue = catalogue
        self.writer = writer
        self.holds = holds
        self.balance_ttl = balance_ttl
        self._views: dict[int, _View] = {}
        self._unsettled: dict[int, Split] = {}  # per user: charged, not committed yet
        self._loading: dict[int, asyncio.Future[_View]] = {}
        self._key_seen: dict[int, _KeySpend] = {}  # capped keys: committed spend, as read
        self._key_unsettled: dict[int, int] = {}
        self._releases: set[asyncio.Future[None]] = set()
        # this process's calls holding money, and how much (the metrics' holds gauges)
        self.holding = 0
        self.held = 0

    async def _view(self, user_id: int) -> _View:
        """The user's view; a stale one is used while a fresh one is read in the background.

        Reads run inside the bill writer, between two commits, so a read never races a
        commit of this process: every charge is in the view exactly once.
        """
        view = self._views.get(user_id)
        if view is not None and view.loaded and time.monotonic() - view.loaded <= self.balance_ttl:
            return view
        loading = self._loading.get(user_id)
        if loading is None:
            loading = self._loading[user_id] = asyncio.ensure_future(self._load(user_id))
        if view is not None and view.loaded:
            return view  # stale but usable: the fresh one is on its way
        return await asyncio.shield(loading)

    async def _load(self, user_id: int) -> _View:
        try:

            async def read() -> _View:
                wallet = await self.writer.query(_WALLET_SQL, (user_id,))
                now = self.writer.db_time(utcnow())
                rows = await self.writer.query(_PACKAGES_SQL, (user_id, now))
                return _View(_balance(wallet), [_package(r) for r in rows], time.monotonic())

            view = self._views[user_id] = await self.writer.read(read)
            return view
        finally:
            del self._loading[user_id]

    async def _key_spent(self, key_id: int) -> int:
        """A capped key's spend: committed (read between commits) plus not yet committed."""
        seen = self._key_seen.get(key_id)
        if seen is None or time.monotonic() - seen.read_at > self.balance_ttl:
            rows = await self.writer.read(lambda: self.writer.query(_KEY_SQL, (key_id,)))
            used = int(rows[0][0]) if rows else 0
            seen = self._key_seen[key_id] = _KeySpend(used, time.monotonic())
        return seen.committed + self._key_unsettled.get(key_id, 0)

    def _pending(self, user_id: int) -> Split:
        pending = self._unsettled.get(user_id)
        if pending is None:
            pending = self._unsettled[user_id] = Split()
        return pending

    async def spendable(self, user_id: int) -> int:
        view = await self._view(user_id)
        return view.balance.spendable - self._pending(user_id).total

    async def topped_up(self, user_id: int) -> int:
        """The user's cumulative top-up (for rate tiers and membership)."""
        return (await self._view(user_id)).balance.topped_up_total

    def forget(self, user_id: int) -> None:
        """Read the user's balance and packages again before the next call (after a top-up)."""
        view = self._views.get(user_id)
        if view is not None:
            view.loaded = 0.0

    async def reserve(
        self,
        principal: Principal,
        model: str,
        route: str,
        service_tier: str | None,
        estimate: Usage,
        share: Fraction = _WHOLE,
    ) -> Reservation:
        rated = self.catalogue.rated(model)
        multipliers = self.catalogue.multipliers(model, route, service_tier, principal.group)
        reservation = Reservation(
            principal.user_id, principal.is_operator, rated, multipliers, route=route, model=model,
            share=share,
        )  # fmt: skip
        if reservation.house:
            return reservation
        spendable = await self.spendable(principal.user_id)
        if spendable <= 0:
            raise InsufficientBalance(INSUFFICIENT_BALANCE)
        view = self._views[principal.user_id]
        if rated.vip_only and self._level(view) == "free":
            raise PermissionDenied(f"The model '{model}' needs a VIP or Premium membership.")
        official = official_cost(rated.price, _worst(rated, estimate))
        hold = charge(official if share == 1 else official * share, multipliers.total)
        await self._hold_key_budget(principal, hold)
        applied, _ = await self.holds.add(
            _hold_key(principal.user_id), hold, ceiling=spendable + hold - 1, ttl_s=_HOLD_TTL
        )
        if not applied:
            await self._release_key_budget(principal.key_id, principal.max_fee, hold)
            raise InsufficientBalance(INSUFFICIENT_BALANCE)
        reservation.hold = hold
        if hold:
            self.holding += 1
            self.held += hold
        reservation.key_id, reservation.key_capped = principal.key_id, principal.max_fee > 0
        reservation.max_fee = principal.max_fee
        return reservation

    async def extend(self, reservation: Reservation, output_tokens: int) -> bool:
        """Grow a call's hold by ``output_tokens`` of output (a stream whose caller set no
        output limit has used what it was held for); False when the balance (or the key's
        cap) cannot cover it with every other hold, and the call must stop.

        Unlike admission, an extension may not take the holds past the balance: only the
        first hold of a call may overshoot, so the bound stays one call's hold.
        """
        if reservation.house:
            return True
        counts = _worst(reservation.rated, Usage(completion_tokens=output_tokens))
        multiplier = reservation.multipliers.total
        extra = charge(official_cost(reservation.rated.price, counts), multiplier)
        if extra <= 0:
            return True
        spendable = await self.spendable(reservation.user_id)
        user_key = _hold_key(reservation.user_id)
        applied, _ = await self.holds.add(user_key, extra, ceiling=spendable, ttl_s=_HOLD_TTL)
        if not applied:
            return False
        if reservation.key_capped:
            left = reservation.max_fee - await self._key_spent(reservation.key_id)
            key = _key_hold_key(reservation.key_id)
            granted, _ = await self.holds.add(key, extra, ceiling=left, ttl_s=_HOLD_TTL)
            if not granted:
                await self.holds.add(user_key, -extra, ttl_s=_HOLD_TTL)
                return False
        if not reservation.hold:
            self.holding += 1
        reservation.hold += extra
        self.held += extra
        return True

    @property
    def membership_tiers(self) -> Sequence[MembershipTier]:
        return self.tiers.current.membership

    def _level(self, view: _View) -> str:
        balance = view.balance
        return membership(
            balance.topped_up_total, balance.first_topup_at, utcnow(), self.membership_tiers
        ).level

    async def _hold_key_budget(self, principal: Principal, hold: int) -> None:
        """A key with ``max_fee`` may not spend (with its calls in flight) past its cap."""
        if principal.max_fee <= 0:
            return
        left = principal.max_fee - await self._key_spent(principal.key_id)
        applied, _ = await self.holds.add(
            _key_hold_key(principal.key_id), hold, ceiling=left + hold - 1, ttl_s=_HOLD_TTL
        )
        if left <= 0 or not applied:
            if applied:
                await self.holds.add(_key_hold_key(principal.key_id), -hold, ttl_s=_HOLD_TTL)
            raise InsufficientBalance(KEY_CAP_REACHED, code="key_quota_exceeded")

    async def _release_key_budget(self, key_id: int, max_fee: int, hold: int) -> None:
        if max_fee > 0 and hold:
            await self.holds.add(_key_hold_key(key_id), -hold, ttl_s=_HOLD_TTL)

    async def release(self, reservation: Reservation) -> None:
        if reservation.hold:
            hold, reservation.hold = reservation.hold, 0
            self.holding -= 1
            self.held -= hold
            await self.holds.add(_hold_key(reservation.user_id), -hold, ttl_s=_HOLD_TTL)
            if reservation.key_capped:
                await self.holds.add(_key_hold_key(reservation.key_id), -hold, ttl_s=_HOLD_TTL)

    def price(self, reservation: Reservation, tokens: Usage) -> Charge:
        """Price a call: packages in scope first at official price, the rest multiplied.

        What is taken from packages is claimed at once (before any await), so concurrent
        calls in this process cannot spend the same package amount twice.
        """
        official = official_cost(reservation.rated.price, tokens)
        if reservation.share != 1:  # a cached answer, billed at the operator's share
            official *= reservation.share
        multiplier = reservation.multipliers.total
        rounded = charge(official, Decimal(1))
        if reservation.house:  # metered at its price, charged to nobody
            amount = max(0, charge(official, multiplier))
            return Charge(rounded, amount, 0, 0, multiplier, (), reservation.multipliers)
        view = self._views.get(reservation.user_id)
        uses: list[tuple[int, int]] = []
        if view is not None and view.packages and rounded > 0:
            where = (reservation.route, reservation.model)
            uses = split_official(rounded, view.packages, self._package_pending, where, utcnow())
        covered = sum(amount for _, amount in uses)
        rest = official if not covered else Fraction(rounded - covered)
        amount = max(0, charge(rest, multiplier))  # a call never adds money
        for package_id, taken in uses:
            self._package_pending[package_id] = self._package_pending.get(package_id, 0) + taken
        unsettled_free = self._pending(reservation.user_id).free
        free_left = 0 if view is None else max(0, view.balance.free_balance - unsettled_free)
        free = min(amount, free_left)
        factors = reservation.multipliers
        return Charge(rounded, amount, amount - free, free, multiplier, tuple(uses), factors)

    async def settle(
        self, reservation: Reservation, bill: Bill, durable: bool, alone: bool = False
    ) -> None:
        """Submit the bill and release the hold; with ``durable``, wait for the commit.

        ``alone``: no other call is in flight (see :meth:`BillWriter.submit`).
        """
        committed = self.writer.submit(bill, durable=durable or bill.has_money, alone=alone)
        self._account(bill, committed)
        await self.release(reservation)
        if durable and committed is not None:
            await asyncio.shield(committed)

    def settle_later(self, reservation: Reservation, bill: Bill) -> None:
        """Settle without waiting (a failed or abandoned call): safe in clean-up code."""
        committed = self.writer.submit(bill, durable=bill.has_money)
        self._account(bill, committed)
        if reservation.hold:
            task = asyncio.ensure_future(self.release(reservation))
            self._releases.add(task)
            task.add_done_callback(self._releases.discard)

    def _account(self, bill: Bill, committed: asyncio.Future[None] | None) -> None:
        """Show a charge in this process's view at once, before its commit lands."""
        user_id = bill.user_id
        if committed is None or user_id is None:
            return
        paid, free, uses = bill.paid, bill.free, bill.packages
        unsettled = self._pending(user_id)
        unsettled.paid += paid
        unsettled.free += free
        key_id, spent = bill.key_id, bill.charged
        tracked = key_id is not None and key_id in self._key_seen
        if tracked and key_id is not None:
            self._key_unsettled[key_id] = self._key_unsettled.get(key_id, 0) + spent

        def landed(_: object) -> None:
            unsettled.paid -= paid
            unsettled.free -= free
            if key_id is not None and key_id in self._key_seen:
                self._key_seen[key_id].committed += spent  # read before this commit: apply it
            if tracked and key_id is not None:
                self._key_unsettled[key_id] -= spent
            for package_id, taken in uses:
                left = self._package_pending.get(package_id, 0) - taken
                if left:
                    self._package_pending[package_id] = left
                else:
                    self._package_pending.pop(package_id, None)
            view = self._views.get(user_id)  # read before this commit: apply it
            if view is not None:
                view.balance = _minus(view.balance, paid, free)
                for package in view.packages:
                    package.remaining -= sum(t for pid, t in uses if pid == package.id)

        committed.add_done_callback(landed)


def _worst(rated: Rated, counts: Usage) -> Usage:
    """The estimate priced at its worst: output held as reasoning when reasoning costs more
    (a thinking model may spend its whole limit thinking)."""
    price = rated.price
    if price.reasoning is not None and price.reasoning > price.output:
        return dataclasses.replace(counts, reasoning_tokens=counts.completion_tokens)
    return counts


def _minus(balance: Balance, paid: int, free: int) -> Balance:
    return Balance(
        balance.balance - paid,
        balance.free_balance - free,
        balance.topped_up_total,
        balance.first_topup_at,
    )


_WALLET_SQL = (
    "SELECT balance, free_balance, topped_up_total, first_topup_at FROM wallets WHERE user_id = ?"
)
_PACKAGES_SQL = (
    "SELECT id, remaining, scope_routes, scope_models, expires_at FROM packages "
    "WHERE user_id = ? AND expires_at > ?"
)
_KEY_SQL = "SELECT used_fee FROM api_keys WHERE id = ?"


def _time(value: Any) -> datetime | None:
    """A time as the driver returns it (SQLite: text; PostgreSQL: naive UTC) → aware UTC."""
    if value is None:
        return None
    moment = datetime.fromisoformat(value) if isinstance(value, str) else value
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment


def _json_list(value: Any) -> list[str]:
    items = json.loads(value) if isinstance(value, str | bytes) else value
    return [str(item) for item in items or []]


def _balance(rows: list[tuple[Any, ...]]) -> Balance:
    if not rows:
        return Balance(0, 0, 0, None)
    balance, free, total, first = rows[0]
    return Balance(int(balance), int(free), int(total), _time(first))


def _package(row: tuple[Any, ...]) -> PackageView:
    package_id, remaining, routes, models, expires_at = row
    expires = _time(expires_at)
    assert expires is not None
    return PackageView(
        int(package_id),
        int(remaining),
        frozenset(_json_list(routes)),
        tuple(_json_list(models)),
        expires,
    )


def _hold_key(user_id: int) -> str:
    return f"hold:{user_id}"


def _key_hold_key(key_id: int) -> str:
    return f"hold:key:{key_id}"
