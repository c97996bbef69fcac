"""Wire models of the usage (bill) routes."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field

from relaygate.core.bounds import Amount, Price
from relaygate.core.pagination import Position

__all__ = ["BalanceOut", "CreditIn", "ModelPriceIn", "UsageOut", "UsageQuery"]


@dataclass(frozen=True, slots=True)
class UsageQuery:
    """Which usage records to list, newest first (by ``created_at``, then ``id``).

    ``since`` is inclusive and ``until`` exclusive; ``status_class`` is the hundreds digit
    (``5`` for 5xx); ``route_group`` ``""`` is ``/v1``; ``after`` continues a listing
    below the last row of its previous page; ``before`` reads the rows just above a
    position instead, oldest first (the page before it, for a "newer" link).
    """

    request_id: str | None = None
    user_id: int | None = None
    key_id: int | None = None
    limit: int = 100
    model: str | None = None
    since: datetime | None = None
    until: datetime | None = None
    offset: int = 0
    status: int | None = None
    status_class: int | None = None
    after: Position | None = None
    route_group: str | None = None  # "" is /v1; "cc-omg", "codex-omg"
    before: Position | None = None  # rows above this position, oldest first


class UsageOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    request_id: str
    created_at: datetime
    user_id: int | None
    key_id: int | None
    model: str
    upstream_model: str
    channel_id: int | None
    endpoint: str
    status: int
    stream: bool
    prompt_tokens: int
    completion_tokens: int
    cached_tokens: int
    reasoning_tokens: int
    usage_estimated: bool
    rurt_ms: int
    ttfb_ms: int | None
    duration_ms: int
    client_ip: str
    error: str | None
    official_cost: int
    amount: int
    free_amount: int
    package_amount: int
    multiplier: str
    route_group: str
    model_multiplier: str
    route_multiplier: str
    tier_multiplier: str
    group_multiplier: str
    attempts: int
    images: int
    characters: int
    audio_ms: int
    rules: str | None = Field(
        default=None,
        description="The ids of the override rules that rewrote the call, comma-separated "
        '("12,15"); null when none fired. `model` is the model after their renames.',
    )


Money = Amount  # core/bounds.py: exact to the micro-unit, and the schema says what parses


class CreditIn(BaseModel):
    """An operator's change to a user's balance, in currency units (``"20"`` or ``"0.5"``)."""

    model_config = ConfigDict(extra="forbid")

    amount: Money
    kind: Literal["topup", "free_grant", "adjustment"] = "topup"
    memo: str = Field(default="", max_length=500)


class BalanceOut(BaseModel):
    balance: str
    free_balance: str
    topped_up_total: str
    first_topup_at: datetime | None


class ModelPriceIn(BaseModel):
    """Official prices per million tokens (or per call), in currency units; the media
    prices are per image, per million input characters and per second of audio."""

    model_config = ConfigDict(extra="forbid")

    input: Price = Decimal(0)
    output: Price = Decimal(0)
    cached_input: Price | None = None
    cache_write: Price | None = None
    reasoning: Price | None = None
    per_call: Price = Decimal(0)
    per_image: Price = Decimal(0)
    per_character: Price = Decimal(0)
    per_second: Price = Decimal(0)
    multiplier: Annotated[Decimal, Field(ge=0, max_digits=12, decimal_places=6)] = Decimal(1)
    flex: bool = False
    vip_only: bool = False
