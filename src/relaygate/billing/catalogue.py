"""The model catalogue: official prices and multipliers, as the relay reads them.

Prices live in the database (declared in the TOML file's ``[[models]]`` or set through
the operator API); the relay prices calls from an in-memory snapshot rebuilt after each
change, so pricing a call costs no query. Other replicas rebuild theirs within
``price_refresh_interval`` of a change (a kv version counter: ``kv/signal.py``). A model
with no entry is priced at zero (the built-in echo model, or an operator who has not
priced a model yet: docs/billing.md).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from sqlalchemy import delete, select

from relaygate.accounts.audit import changes_detail, stage
from relaygate.billing.models import ModelPrice
from relaygate.billing.pricing import Multipliers, Price
from relaygate.core.errors import NotFound
from relaygate.db.engine import Database
from relaygate.kv.memory import MemoryCounter
from relaygate.kv.protocols import Counter
from relaygate.kv.signal import ChangeSignal

__all__ = ["VERSION_KEY", "Catalogue", "CatalogueService", "Rated"]

VERSION_KEY = "prices:version"


@dataclass(frozen=True, slots=True)
class Rated:
    price: Price
    multiplier: Decimal
    flex: bool
    vip_only: bool


_FREE = Rated(Price(), Decimal(1), flex=False, vip_only=False)


class Catalogue:
    """The snapshot the relay prices calls with."""

    def __init__(
        self,
        route_multipliers: dict[str, Decimal],
        flex_multiplier: Decimal,
        group_multipliers: dict[str, Decimal] | None = None,
    ) -> None:
        self.route_multipliers = route_multipliers
        self.flex_multiplier = flex_multiplier
        self.group_multipliers = group_multipliers or {}
        self._models: dict[str, Rated] = {}

    def load(self, rows: Iterable[ModelPrice]) -> None:
        self._models = {
            row.model: Rated(
                Price(
                    input=row.input,
                    output=row.output,
                    cached_input=row.cached_input,
                    cache_write=row.cache_write,
                    reasoning=row.reasoning,
                    per_call=row.per_call,
                    per_image=row.per_image,
                    per_character=row.per_character,
                    per_second=row.per_second,
                ),
                Decimal(row.multiplier),
                row.flex,
                row.vip_only,
            )
            for row in rows
        }

    def rated(self, model: str) -> Rated:
        return self._models.get(model, _FREE)

    def multipliers(
        self, model: str, route: str, service_tier: str | None, group: str = ""
    ) -> Multipliers:
        rated = self.rated(model)
        tier = self.flex_multiplier if service_tier == "flex" and rated.flex else Decimal(1)
        return Multipliers(
            model=rated.multiplier,
            route=self.route_multipliers.get(route, Decimal(1)),
            tier=tier,
            group=self.group_multipliers.get(group, Decimal(1)) if group else Decimal(1),
        )

    def model_rates(self) -> dict[str, Decimal]:
        return {model: rated.multiplier for model, rated in sorted(self._models.items())}


class CatalogueService:
    def __init__(self, db: Database, catalogue: Catalogue, counters: Counter | None = None) -> None:
        """``counters``: the kv's, shared by the replicas (none: this process alone)."""
        self.db = db
        self.catalogue = catalogue
        self.signal = ChangeSignal(counters or MemoryCounter(), VERSION_KEY, self._rebuild)

    async def publish(self) -> None:
        """Rebuild this replica's snapshot from the table."""
        await self.signal.reload()

    async def _rebuild(self) -> None:
        self.catalogue.load(await self.all())

    async def refresh_every(self, interval: float) -> None:
        """Follow the changes made on other replicas (``kv/signal.py``)."""
        await self.signal.watch(interval)

    async def all(self) -> list[ModelPrice]:
        async with self.db.session() as session:
            return list(await session.scalars(select(ModelPrice).order_by(ModelPrice.model)))

    async def put(
        self,
        model: str,
        fields: dict[str, Any],
        source: str = "api",
        *,
        actor_id: int | None = None,
    ) -> ModelPrice:
        """Set a model's prices (audit line ``price.edit``; not for the config file's
        prices, written at every start)."""
        async with self.db.session() as session, session.begin():
            row = await session.get(ModelPrice, model)
            if row is None:
                row = ModelPrice(model=model)
                session.add(row)
            for name, value in {**fields, "source": source}.items():
                setattr(row, name, value)
            if source != "config":
                detail = {"model": model, **changes_detail(fields)}
                stage(session, "price.edit", actor_id=actor_id, subject_user_id=None, detail=detail)
        await self.signal.changed()
        return row

    async def remove(self, model: str, *, actor_id: int | None = None) -> None:
        async with self.db.session() as session, session.begin():
            result = await session.execute(delete(ModelPrice).where(ModelPrice.model == model))
            detail = {"model": model}
            stage(session, "price.delete", actor_id=actor_id, subject_user_id=None, detail=detail)
        if not result.rowcount:  # type: ignore[attr-defined]
            raise NotFound(f"The model '{model}' has no price.")
        await self.signal.changed()

    async def sync_declared(self, declared: Iterable[tuple[str, dict[str, Any]]]) -> None:
        """Write the prices declared in the config file (the file wins for its models)."""
        for model, fields in declared:
            await self.put(model, fields, source="config")
