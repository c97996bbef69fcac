"""The model-price form of the operator console, read into the price API's own model
(billing/schemas.py ``ModelPriceIn``) and converted as ``PUT /api/v1/operator/models``
converts it: exact decimals in currency units, stored as micro-units.

A row of the catalogue posts only the prices it shows; the others (media prices) keep
their current values.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from pydantic import ValidationError

from relaygate.billing.models import ModelPrice
from relaygate.billing.schemas import ModelPriceIn
from relaygate.core.money import MoneyError, format_money, parse_money
from relaygate.web.forms import FormErrors, schema_errors

__all__ = ["PRICE_FIELDS", "PriceRow", "price_row", "read_price"]

# every price the catalogue stores, in the API's order
PRICE_FIELDS = (
    "input", "output", "cached_input", "cache_write", "reasoning",
    "per_call", "per_image", "per_character", "per_second",
)  # fmt: skip
OPTIONAL = frozenset({"cached_input", "cache_write", "reasoning"})  # empty: not priced apart


@dataclass(frozen=True, slots=True)
class PriceRow:
    """A catalogue row as its form shows it: each price as exact decimal text."""

    model: str
    values: dict[str, str]  # field → text ("" for an unset optional price)
    multiplier: str
    flex: bool
    vip_only: bool
    source: str


def price_row(row: ModelPrice) -> PriceRow:
    def text(value: int | None) -> str:
        """Exact, without the trailing zeros (1.500000 reads as 1.5)."""
        if value is None:
            return ""
        shown = format_money(value)
        return shown.rstrip("0").rstrip(".") if "." in shown else shown

    return PriceRow(
        model=row.model,
        values={name: text(getattr(row, name)) for name in PRICE_FIELDS},
        multiplier=row.multiplier,
        flex=row.flex,
        vip_only=row.vip_only,
        source=row.source,
    )


def _posted(form: dict[str, Any], current: PriceRow | None) -> dict[str, Any]:
    body: dict[str, Any] = {}
    for name in PRICE_FIELDS:
        kept = current.values[name] if current else ""
        text = str(form[name]).strip() if name in form else kept
        if text or name not in OPTIONAL:
            body[name] = text or "0"
    body["multiplier"] = str(form.get("multiplier", "")).strip() or "1"
    body["flex"] = form.get("flex") == "on"
    body["vip_only"] = form.get("vip_only") == "on"
    return body


def read_price(form: dict[str, Any], current: PriceRow | None) -> dict[str, Any]:
    """The fields ``CatalogueService.put`` stores; raises FormErrors naming each field."""
    try:
        checked = ModelPriceIn.model_validate(_posted(form, current))
    except ValidationError as err:
        raise FormErrors(schema_errors(err)) from None
    fields = checked.model_dump()
    try:
        for name in PRICE_FIELDS:
            fields[name] = None if fields[name] is None else parse_money(fields[name], name)
    except MoneyError as err:
        raise FormErrors({err.param or "form": err.message}) from None
    fields["multiplier"] = str(checked.multiplier)
    return fields
