"""The operator's tier tables, checked: membership tiers, RPM tiers and the referral
terms. Pure: no database, no kv.

The settings give the defaults; the operator may store an override of each of the three
sections (billing/tier_config.py). Both pass the same checks, so a table the relay, the
dashboard or the referral service reads is always well formed: thresholds strictly
increasing exact money (micro-units, never a float), months and RPM at least 1, the RPM
table starting at a top-up of 0, email domains that are domain names. A section comes in
(from the JSON route, the console form or the stored row) as plain JSON values and goes
out as typed records; :func:`section_json` is the way back, the one stored shape.

Consumers never hold a table: they hold a :class:`TierSource` and read ``current`` at
each use, so a table the operator saves is what the next call, page or sign-up sees.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import timedelta
from decimal import Decimal
from typing import Any, Final, Literal, Protocol

from relaygate.billing.membership import DEFAULT_TIERS, MembershipTier
from relaygate.core.errors import InvalidRequest
from relaygate.core.money import MoneyError, format_money, parse_money

__all__ = [
    "DEFAULT_REFERRAL",
    "DEFAULT_SOURCE",
    "DEFAULT_RPM",
    "DEFAULT_TABLES",
    "LEVELS",
    "MEMBERSHIP",
    "RATE_LIMITS",
    "REFERRAL",
    "SECTIONS",
    "FixedTiers",
    "ReferralTerms",
    "RpmTier",
    "Section",
    "TierSource",
    "TierTables",
    "check_membership",
    "check_referral",
    "check_rpm",
    "default_tables",
    "section_json",
    "with_section",
]

Section = Literal["membership_tiers", "rate_limit_tiers", "referral"]
MEMBERSHIP: Final = "membership_tiers"
RATE_LIMITS: Final = "rate_limit_tiers"
REFERRAL: Final = "referral"
SECTIONS: tuple[Section, ...] = (MEMBERSHIP, RATE_LIMITS, REFERRAL)
LEVELS = ("vip", "premium")  # what billing/membership.py and VIP-only prices know
MAX_ROWS = 20
MAX_DOMAINS = 200
MAX_RPM = 10_000_000
MAX_MONTHS = 1200
MAX_REDEEM_DAYS = 3650
_DOMAIN = re.compile(r"^(?=.{1,253}$)(?:[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z]{2,63}$")


@dataclass(frozen=True, slots=True)
class RpmTier:
    """Users whose cumulative top-up reaches ``min_topup`` (micro-units) get ``rpm``."""

    min_topup: int
    rpm: int


@dataclass(frozen=True, slots=True)
class ReferralTerms:
    """Which package type a referral grants both sides, which email domains earn it,
    and for how many days after sign-up a code may be entered."""

    package_type: str
    allowed_domains: tuple[str, ...]  # empty: any domain not denied
    denied_domains: tuple[str, ...]
    redeem_days: int

    @property
    def redeem_window(self) -> timedelta:
        return timedelta(days=self.redeem_days)


DEFAULT_RPM = (RpmTier(0, 60), RpmTier(20_000_000, 1_000), RpmTier(300_000_000, 10_000))
DEFAULT_REFERRAL = ReferralTerms("$20 Claude Code", (), (), 7)


@dataclass(frozen=True, slots=True)
class TierTables:
    """The effective tables at one moment; ``stored`` names the sections the operator
    saved (the others are the settings' defaults)."""

    membership: tuple[MembershipTier, ...]
    rpm: tuple[RpmTier, ...]
    referral: ReferralTerms
    stored: frozenset[Section] = frozenset()


DEFAULT_TABLES = TierTables(DEFAULT_TIERS, DEFAULT_RPM, DEFAULT_REFERRAL)


class TierSource(Protocol):
    """Where a consumer reads the effective tables, at each use (no copy kept)."""

    @property
    def current(self) -> TierTables: ...


@dataclass(frozen=True, slots=True)
class FixedTiers:
    """A source that never changes (tests, benchmarks, a service built on its own)."""

    current: TierTables = DEFAULT_TABLES


DEFAULT_SOURCE = FixedTiers()  # the settings' own defaults, for a consumer built without one


def _fail(param: str, message: str) -> InvalidRequest:
    return InvalidRequest(message, param=param)


def _rows(value: Any, name: str, *, allow_empty: bool) -> list[Any]:
    if not isinstance(value, list):
        raise _fail(name, f"'{name}' must be a list of tiers.")
    if not value and not allow_empty:
        raise _fail(name, f"'{name}' needs at least one tier.")
    if len(value) > MAX_ROWS:
        raise _fail(name, f"'{name}' may have at most {MAX_ROWS} tiers.")
    return value


def _field(row: Any, key: str, where: str) -> Any:
    if not isinstance(row, dict):
        raise _fail(where, f"'{where}' must be an object.")
    if key not in row:
        raise _fail(f"{where}.{key}", f"'{where}.{key}' is required.")
    return row[key]


def _money(value: Any, param: str) -> int:
    if isinstance(value, bool) or not isinstance(value, str | int | Decimal):
        raise _fail(param, f"'{param}' must be a decimal amount such as \"20\".")
    try:
        micro = parse_money(value, param)
    except MoneyError as err:
        raise _fail(param, err.message) from None
    if micro < 0:
        raise _fail(param, f"'{param}' cannot be negative.")
    return micro


def _whole(value: Any, param: str, low: int, high: int) -> int:
    if isinstance(value, str) and value.strip().isdigit():
        value = int(value.strip())
    if isinstance(value, bool) or not isinstance(value, int):
        raise _fail(param, f"'{param}' must be a whole number.")
    if not low <= value <= high:
        raise _fail(param, f"'{param}' must be between {low} and {high}.")
    return value


def _increasing(thresholds: Sequence[int], name: str) -> None:
    for index in range(1, len(thresholds)):
        if thresholds[index] <= thresholds[index - 1]:
            raise _fail(
                f"{name}[{index}].min_topup",
                f"'{name}[{index}].min_topup' must be above the tier before it "
                "(thresholds strictly increase).",
            )


def check_membership(value: Any) -> tuple[MembershipTier, ...]:
    """``[{"level": "vip", "min_topup": "20", "months": 1}, ...]`` as tiers; empty: no
    membership is earned."""
    tiers = []
    for index, row in enumerate(_rows(value, MEMBERSHIP, allow_empty=True)):
        where = f"{MEMBERSHIP}[{index}]"
        level = _field(row, "level", where)
        if level not in LEVELS:
            raise _fail(f"{where}.level", f"'{where}.level' must be one of {', '.join(LEVELS)}.")
        minimum = _money(_field(row, "min_topup", where), f"{where}.min_topup")
        months = _whole(_field(row, "months", where), f"{where}.months", 1, MAX_MONTHS)
        tiers.append(MembershipTier(str(level), minimum, months))
    _increasing([tier.min_total for tier in tiers], MEMBERSHIP)
    return tuple(tiers)


def check_rpm(value: Any) -> tuple[RpmTier, ...]:
    """``[{"min_topup": "0", "rpm": 60}, ...]`` as tiers; the first starts at 0, so every
    user has an RPM."""
    tiers = []
    for index, row in enumerate(_rows(value, RATE_LIMITS, allow_empty=False)):
        where = f"{RATE_LIMITS}[{index}]"
        minimum = _money(_field(row, "min_topup", where), f"{where}.min_topup")
        rpm = _whole(_field(row, "rpm", where), f"{where}.rpm", 1, MAX_RPM)
        tiers.append(RpmTier(minimum, rpm))
    if tiers[0].min_topup != 0:
        param = f"{RATE_LIMITS}[0].min_topup"
        raise _fail(param, f"'{param}' must be 0: every user needs an RPM.")
    _increasing([tier.min_topup for tier in tiers], RATE_LIMITS)
    return tuple(tiers)


def _domains(value: Any, param: str) -> tuple[str, ...]:
    if isinstance(value, str):
        value = [part for part in re.split(r"[\s,]+", value) if part]
    if not isinstance(value, list) or len(value) > MAX_DOMAINS:
        raise _fail(param, f"'{param}' must be a list of at most {MAX_DOMAINS} domains.")
    found: list[str] = []
    for item in value:
        domain = str(item).strip().lower().removeprefix("@")
        if not _DOMAIN.match(domain):
            raise _fail(param, f"'{param}': {str(item)[:80]!r} is not a domain name.")
        if domain not in found:
            found.append(domain)
    return tuple(found)


def check_referral(value: Any) -> ReferralTerms:
    """``{"package_type", "allowed_domains", "denied_domains", "redeem_days"}`` as terms.
    Whether the package type exists is the service's check (it needs the database)."""
    if not isinstance(value, dict):
        raise _fail(REFERRAL, f"'{REFERRAL}' must be an object.")
    name = _field(value, "package_type", REFERRAL)
    if not isinstance(name, str) or not name.strip() or len(name.strip()) > 100:
        param = f"{REFERRAL}.package_type"
        raise _fail(param, f"'{param}' must name a package type.")
    return ReferralTerms(
        package_type=name.strip(),
        allowed_domains=_domains(value.get("allowed_domains", []), f"{REFERRAL}.allowed_domains"),
        denied_domains=_domains(value.get("denied_domains", []), f"{REFERRAL}.denied_domains"),
        redeem_days=_whole(
            _field(value, "redeem_days", REFERRAL),
            f"{REFERRAL}.redeem_days",
            0,
            MAX_REDEEM_DAYS,
        ),
    )


def section_json(tables: TierTables, section: Section) -> Any:
    """One section as plain JSON: the stored shape, the API's and the audit line's."""
    if section == MEMBERSHIP:
        return [
            {"level": t.name, "min_topup": format_money(t.min_total), "months": t.months}
            for t in tables.membership
        ]
    if section == RATE_LIMITS:
        return [{"min_topup": format_money(t.min_topup), "rpm": t.rpm} for t in tables.rpm]
    terms = tables.referral
    return {
        "package_type": terms.package_type,
        "allowed_domains": list(terms.allowed_domains),
        "denied_domains": list(terms.denied_domains),
        "redeem_days": terms.redeem_days,
    }


def with_section(tables: TierTables, section: Section, value: Any) -> TierTables:
    """``tables`` with ``section`` replaced by the checked ``value`` (InvalidRequest
    naming the field when it does not pass)."""
    if section == MEMBERSHIP:
        return replace(tables, membership=check_membership(value))
    if section == RATE_LIMITS:
        return replace(tables, rpm=check_rpm(value))
    if section == REFERRAL:
        return replace(tables, referral=check_referral(value))
    raise _fail("section", f"Unknown section {section!r}: one of {', '.join(SECTIONS)}.")


def default_tables(
    membership: Sequence[tuple[str, Decimal | int | str, int]],
    rpm: Sequence[tuple[Decimal | int | str, int]],
    referral: dict[str, Any],
) -> TierTables:
    """The settings' tables (``membership_tiers``, ``rate_limit_tiers``, ``referral_*``),
    put in threshold order and checked like an operator's: a bad one stops the start
    with a ValueError naming the setting."""
    rows = [{"level": n, "min_topup": str(m), "months": k} for n, m, k in membership]
    steps = [{"min_topup": str(m), "rpm": r} for m, r in rpm]
    try:
        return TierTables(
            check_membership(sorted(rows, key=lambda row: Decimal(row["min_topup"]))),
            check_rpm(sorted(steps, key=lambda row: Decimal(row["min_topup"]))),
            check_referral(referral),
        )
    except InvalidRequest as err:
        raise ValueError(f"setting {err.param}: {err.message}") from None
