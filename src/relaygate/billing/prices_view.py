"""The prices page: every model a user may call, its official prices and the user's
effective multiplier, and a prediction of a call's charge that matches the bill.

Read from the relay's own price snapshot (``Catalogue``, the one ``Charging`` prices
calls with), so what the page shows is what the next call is charged. The effective
multiplier is model × route group × service tier (flex) × the user's group, per route
group (``""`` is ``/v1``); :meth:`PricesView.predict` prices token counts exactly as
``Charging.price`` does for a call that no package covers (packages are spent first, at
official prices: the packages page shows what is left).
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from dataclasses import dataclass
from decimal import Decimal
from fractions import Fraction

from relaygate.accounts.models import User
from relaygate.billing.catalogue import Catalogue
from relaygate.billing.pricing import Multipliers, Price, charge, official_cost
from relaygate.core.errors import NotFound
from relaygate.core.units import Usage
from relaygate.db.engine import Database

__all__ = ["ModelPriceLine", "Prediction", "PricesView"]

V1 = ""  # the plain /v1 routes: no route group


@dataclass(frozen=True, slots=True)
class ModelPriceLine:
    """A model's official prices (micro-units per million tokens, or per call/unit) and
    what multiplies them for this user."""

    model: str
    prices: Price
    priced: bool  # False: the catalogue has no price (the call costs 0)
    flex: bool  # ``service_tier: "flex"`` is priced at the flex multiplier
    vip_only: bool  # needs a VIP or Premium membership
    model_multiplier: Decimal
    group_multiplier: Decimal  # the user's pricing group's (1 without a group)
    flex_multiplier: Decimal  # applied to flex calls (1 when the model has no flex)
    effective: Mapping[str, Decimal]  # route group ("" = /v1) → the product applied


@dataclass(frozen=True, slots=True)
class Prediction:
    model: str
    route_group: str
    official_exact: Fraction  # at official prices, before rounding
    official_cost: int  # rounded, as a bill shows it
    multipliers: Multipliers
    multiplier: Decimal  # the product
    amount: int  # what the call would be charged (no package covering it)


class PricesView:
    def __init__(self, db: Database, catalogue: Catalogue) -> None:
        self.db = db
        self.catalogue = catalogue

    async def _group(self, user_id: int) -> str:
        async with self.db.session() as session:
            user = await session.get(User, user_id)
        if user is None:
            raise NotFound(f"No user with id {user_id}.")
        return user.group

    async def for_user(
        self,
        user_id: int,
        *,
        served: Collection[str] | None = None,
        permissions: Collection[str] | None = None,
    ) -> tuple[ModelPriceLine, ...]:
        """The models ``user_id`` may call, by name: those with a price, or, when given,
        ``served`` (the channels' public model names: a served model without a price
        costs 0), narrowed to ``permissions`` (a key's model list) when given."""
        group = await self._group(user_id)
        priced = self.catalogue.model_rates()
        names = set(priced) if served is None else set(served)
        if permissions is not None:
            names &= set(permissions)
        return tuple(self._line(name, group, name in priced) for name in sorted(names))

    def _line(self, model: str, group: str, priced: bool) -> ModelPriceLine:
        rated = self.catalogue.rated(model)
        routes = [V1, *sorted(self.catalogue.route_multipliers)]
        base = self.catalogue.multipliers(model, V1, None, group)
        return ModelPriceLine(
            model=model,
            prices=rated.price,
            priced=priced,
            flex=rated.flex,
            vip_only=rated.vip_only,
            model_multiplier=base.model,
            group_multiplier=base.group,
            flex_multiplier=self.catalogue.flex_multiplier if rated.flex else Decimal(1),
            effective={
                route: self.catalogue.multipliers(model, route, None, group).total
                for route in routes
            },
        )

    async def predict(
        self,
        user_id: int,
        model: str,
        prompt_tokens: int,
        completion_tokens: int,
        *,
        route_group: str = V1,
        service_tier: str | None = None,
        cached_tokens: int = 0,
    ) -> Prediction:
        """What ``user_id`` would be charged for a call of ``model`` with these token
        counts (``Charging.price``'s steps: official cost, × the multipliers, one
        rounding half up, never below 0)."""
        group = await self._group(user_id)
        rated = self.catalogue.rated(model)
        multipliers = self.catalogue.multipliers(model, route_group, service_tier, group)
        usage = Usage(
            prompt_tokens=prompt_tokens,
            completion_tokens=completion_tokens,
            cached_tokens=cached_tokens,
        )
        official = official_cost(rated.price, usage)
        total = multipliers.total
        return Prediction(
            model=model,
            route_group=route_group,
            official_exact=official,
            official_cost=charge(official, Decimal(1)),
            multipliers=multipliers,
            multiplier=total,
            amount=max(0, charge(official, total)),
        )
