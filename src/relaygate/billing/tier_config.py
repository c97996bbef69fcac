"""The effective membership tiers, RPM tiers and referral terms: the settings' defaults,
or what the operator saved in the ``platform_config`` table (tier_rules.py checks both).

Every relay call reads the RPM tiers, so they must cost no database round trip: the
tables live in memory as one immutable :class:`TierTables` snapshot (``current``), swapped
whole. A save or a reset commits the row and its audit line, bumps a version counter in
the kv and reloads this replica's snapshot at once; every replica checks the counter once
per ``refresh_every`` interval (one kv read, ~1 s) and reloads the table only when it
moved. A kv that lost the counter (a Redis restart) reads 0, which differs from what the
replicas saw, so they reload; and a full reload every :data:`RESYNC_TICKS` checks bounds
any staleness the counter could miss.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any

from sqlalchemy import delete, select
from sqlalchemy.exc import IntegrityError

from relaygate.accounts.audit import stage
from relaygate.billing.models import PlatformConfig
from relaygate.billing.packages import PackageService
from relaygate.billing.tier_rules import (
    REFERRAL,
    SECTIONS,
    Section,
    TierTables,
    section_json,
    with_section,
)
from relaygate.core.clock import utcnow
from relaygate.core.errors import Conflict, InvalidRequest
from relaygate.db.engine import Database
from relaygate.kv.protocols import Counter

__all__ = ["RESYNC_TICKS", "VERSION_KEY", "SectionState", "TierConfig", "TierConfigView"]

log = logging.getLogger(__name__)

VERSION_KEY = "tiers:version"
RESYNC_TICKS = 30  # checks between full reloads, counter or not


@dataclass(frozen=True, slots=True)
class SectionState:
    """Where a section's effective value comes from."""

    section: Section
    stored: bool  # True: the operator's saved value; False: the settings' default
    updated_at: datetime | None
    updated_by: int | None  # the operator who saved it


@dataclass(frozen=True, slots=True)
class TierConfigView:
    tables: TierTables
    sections: tuple[SectionState, ...]  # in SECTIONS order

    def state(self, section: Section) -> SectionState:
        return next(s for s in self.sections if s.section == section)


def _section(name: str) -> Section:
    if name not in SECTIONS:
        raise InvalidRequest(
            f"Unknown section {name!r}: one of {', '.join(SECTIONS)}.", param="section"
        )
    return name


class TierConfig:
    """The one source of the tables in a process (a :class:`TierSource`): Charging's
    membership, the dashboard, the rate limiter's RPM and the referral service read
    ``current`` at each use."""

    def __init__(
        self, db: Database, counters: Counter, defaults: TierTables, packages: PackageService
    ) -> None:
        self.db = db
        self.counters = counters
        self.defaults = defaults
        self.packages = packages
        self._current = defaults
        self._version: int | None = None  # the counter as of the last load
        # one load at a time: a periodic load that read the table before a save committed
        # must not install its older snapshot after the save's own load
        self._loading = asyncio.Lock()

    @property
    def current(self) -> TierTables:
        return self._current

    def _effective(self, rows: Sequence[PlatformConfig]) -> TierTables:
        """The defaults with every valid stored section on top; a row that no longer
        passes the checks (edited by hand) is logged and the default kept."""
        tables, stored = self.defaults, set[Section]()
        for row in rows:
            if row.key not in SECTIONS:
                continue
            section = row.key
            try:
                tables = with_section(tables, section, row.value)
            except InvalidRequest as err:
                log.warning("stored %s ignored, the setting applies: %s", section, err.message)
                continue
            stored.add(section)
        return replace(tables, stored=frozenset(stored))

    async def _rows(self) -> list[PlatformConfig]:
        async with self.db.session() as session:
            found = await session.scalars(
                select(PlatformConfig).where(PlatformConfig.key.in_(SECTIONS))
            )
            return list(found)

    async def load(self) -> TierTables:
        """Read the stored sections and install the snapshot. The counter is read first,
        so a save committed after the table read bumps it past what is recorded here."""
        async with self._loading:
            version = await self.counters.get(VERSION_KEY)
            self._current = self._effective(await self._rows())
            self._version = version
        return self._current

    async def view(self) -> TierConfigView:
        """The tables as stored now, and where each section comes from."""
        rows = await self._rows()
        by_key = {row.key: row for row in rows}
        tables = self._effective(rows)
        states = []
        for section in SECTIONS:
            row = by_key.get(section) if section in tables.stored else None
            states.append(
                SectionState(
                    section,
                    row is not None,
                    row.updated_at if row else None,
                    row.updated_by if row else None,
                )
            )
        return TierConfigView(tables, tuple(states))

    async def save(self, changes: Mapping[str, Any], *, actor_id: int | None) -> TierTables:
        """Store each section of ``changes`` (all or none), one audit line per section
        (``tiers.edit``, before and after). A referral package type must exist."""
        if not changes:
            raise InvalidRequest("Give at least one section to change.", param="section")
        checked = self.defaults
        for name, value in changes.items():
            checked = with_section(checked, _section(name), value)
        if REFERRAL in changes:
            await self._check_package_type(checked.referral.package_type)
        try:
            async with self.db.session() as session, session.begin():
                rows = list(await session.scalars(select(PlatformConfig)))
                before = self._effective(rows)
                by_key = {row.key: row for row in rows}
                for name in changes:
                    section = _section(name)
                    after = section_json(checked, section)
                    row = by_key.get(section)
                    if row is None:
                        row = PlatformConfig(key=section)
                        session.add(row)
                    row.value, row.updated_at, row.updated_by = after, utcnow(), actor_id
                    detail = {
                        "section": section,
                        "before": section_json(before, section),
                        "before_source": "database" if section in before.stored else "settings",
                        "after": after,
                    }
                    stage(
                        session,
                        "tiers.edit",
                        actor_id=actor_id,
                        subject_user_id=None,
                        detail=detail,
                    )
        except IntegrityError:
            raise Conflict("The tiers were changed at the same time; try again.") from None
        return await self._changed()

    async def reset(self, name: str, *, actor_id: int | None) -> TierTables:
        """Delete the stored ``name`` section: the setting applies again (audit line
        ``tiers.reset``, before and after). Resetting a section not stored changes nothing."""
        section = _section(name)
        async with self.db.session() as session, session.begin():
            row = await session.get(PlatformConfig, section)
            if row is None:
                return self._current
            before = self._effective([row])
            await session.execute(delete(PlatformConfig).where(PlatformConfig.key == section))
            detail = {
                "section": section,
                "before": section_json(before, section),
                "after": section_json(self.defaults, section),
            }
            stage(session, "tiers.reset", actor_id=actor_id, subject_user_id=None, detail=detail)
        return await self._changed()

    async def _check_package_type(self, name: str) -> None:
        if await self.packages.type_named(name) is None:
            param = f"{REFERRAL}.package_type"
            raise InvalidRequest(
                f"'{param}': no package type is named {name!r}; create it first.", param=param
            )

    async def _changed(self) -> TierTables:
        """Tell every replica (the counter) and reload here at once."""
        await self.counters.add(VERSION_KEY, 1)
        return await self.load()

    async def refresh_every(self, interval: float) -> None:
        """Reload when another replica saved (the counter moved), and now and then anyway."""
        ticks = 0
        while True:
            await asyncio.sleep(interval)
            ticks += 1
            try:
                moved = await self.counters.get(VERSION_KEY) != self._version
                if moved or ticks % RESYNC_TICKS == 0:
                    await self.load()
            except Exception:  # noqa: BLE001 - a background loop: keep the last snapshot
                log.warning("refreshing the tier tables failed; keeping the last", exc_info=True)
