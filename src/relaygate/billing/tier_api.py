"""The operator's tier routes: membership tiers, RPM tiers and the referral terms, read,
replaced and reset to the settings' defaults (billing/tier_config.py)."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from fastapi import APIRouter
from pydantic import BaseModel, ConfigDict, Field

from relaygate.accounts.api import OPERATOR_ERRORS, OperatorDep
from relaygate.billing.tier_config import TierConfigView
from relaygate.billing.tier_rules import (
    MAX_DOMAINS,
    MAX_MONTHS,
    MAX_REDEEM_DAYS,
    MAX_ROWS,
    MAX_RPM,
    SECTIONS,
    Section,
    section_json,
)
from relaygate.core.bounds import Price
from relaygate.core.envelope import refused_when
from relaygate.core.patch import omittable
from relaygate.services import TiersDep

__all__ = ["router"]

Level = Literal["vip", "premium"]  # tier_rules.LEVELS
Domain = Field(min_length=1, max_length=253)


class MembershipTierIn(BaseModel):
    """Users whose cumulative top-up reaches ``min_topup`` (counted from their first
    payment) are ``level`` for ``months``."""

    model_config = ConfigDict(extra="forbid")

    level: Level
    min_topup: Price
    months: int = Field(ge=1, le=MAX_MONTHS)


class RateTierIn(BaseModel):
    """Users whose cumulative top-up reaches ``min_topup`` may make ``rpm`` requests a
    minute."""

    model_config = ConfigDict(extra="forbid")

    min_topup: Price
    rpm: int = Field(ge=1, le=MAX_RPM)


class ReferralIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    package_type: str = Field(
        min_length=1, max_length=100, description="the package type both sides get"
    )
    allowed_domains: list[str] = Field(
        default_factory=list,
        max_length=MAX_DOMAINS,
        description="only these email domains (and their subdomains) earn it; empty: any",
    )
    denied_domains: list[str] = Field(
        default_factory=list,
        max_length=MAX_DOMAINS,
        description="these email domains (and their subdomains) never earn it",
    )
    redeem_days: int = Field(
        ge=0, le=MAX_REDEEM_DAYS, description="days after sign-up an invite code may be entered"
    )


class TiersIn(BaseModel):
    """The sections to replace; the ones left out keep what they have."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={"minProperties": 1},
    )

    membership_tiers: list[MembershipTierIn] = omittable(
        max_length=MAX_ROWS, description="thresholds strictly increasing; empty: no membership"
    )
    rate_limit_tiers: list[RateTierIn] = omittable(
        min_length=1, max_length=MAX_ROWS, description="the first at 0, thresholds increasing"
    )
    referral: ReferralIn = omittable()


class MembershipTierOut(BaseModel):
    level: Level
    min_topup: str = Field(description="currency units, six decimals")
    months: int


class RateTierOut(BaseModel):
    min_topup: str = Field(description="currency units, six decimals")
    rpm: int


class ReferralOut(BaseModel):
    package_type: str
    allowed_domains: list[str]
    denied_domains: list[str]
    redeem_days: int


class SourceOut(BaseModel):
    source: Literal["database", "settings"] = Field(
        description="database: the operator's saved value; settings: the default"
    )
    updated_at: datetime | None
    updated_by: int | None = Field(description="the operator's user id")


class TiersOut(BaseModel):
    membership_tiers: list[MembershipTierOut]
    rate_limit_tiers: list[RateTierOut]
    referral: ReferralOut
    sources: dict[str, SourceOut] = Field(description="per section: where its value comes from")


class TiersEnvelope(BaseModel):
    statusCode: int  # noqa: N815 - the platform's wire name
    message: str
    data: TiersOut


router = APIRouter(prefix="/api/v1/operator", tags=["operator: tiers"], responses=OPERATOR_ERRORS)


def _out(view: TierConfigView) -> dict[str, Any]:
    data: dict[str, Any] = {section: section_json(view.tables, section) for section in SECTIONS}
    data["sources"] = {
        state.section: {
            "source": "database" if state.stored else "settings",
            "updated_at": state.updated_at,
            "updated_by": state.updated_by,
        }
        for state in view.sections
    }
    return {"statusCode": 200, "message": "success", "data": data}


@router.get(
    "/tiers",
    summary="The effective membership tiers, RPM tiers and referral terms",
    response_model=TiersEnvelope,
)
async def get_tiers(_: OperatorDep, tiers: TiersDep) -> dict[str, Any]:
    return _out(await tiers.view())


@router.put(
    "/tiers",
    summary="Replace membership tiers, RPM tiers or referral terms",
    description="Each section given replaces the stored one (all or none); every replica "
    "applies it within `tier_refresh_interval` seconds. One audit line per section.",
    response_model=TiersEnvelope,
    responses=refused_when(
        "thresholds that do not strictly increase, an RPM table not starting at 0, "
        "a domain that is not a domain name, or a package type that does not exist"
    ),
)
async def put_tiers(body: TiersIn, caller: OperatorDep, tiers: TiersDep) -> dict[str, Any]:
    changes = body.model_dump(exclude_unset=True)
    await tiers.save(changes, actor_id=caller.user_id)
    return _out(await tiers.view())


@router.delete(
    "/tiers/{section}",
    summary="Reset a section to the settings' default",
    description="Deletes the stored section: the setting applies again (no-op when none is "
    "stored).",
    response_model=TiersEnvelope,
)
async def reset_tiers(section: Section, caller: OperatorDep, tiers: TiersDep) -> dict[str, Any]:
    await tiers.reset(section, actor_id=caller.user_id)
    return _out(await tiers.view())
