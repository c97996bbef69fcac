"""The keys page's form: what a person typed, checked field by field, as the service's
arguments or as errors the form shows next to each field (never a 500).

The checks are the platform key API's (accounts/user_api.py: a remark of at most 500
characters, an ISO date, an exact non-negative amount of at most six decimals) plus what a
form can say better than an API: models only from the list offered, a day in the future,
limits as whole numbers. Errors are msgids, translated where the form is shown.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from typing import Any

from relaygate.accounts.models import ApiKey
from relaygate.core.bounds import INT32_MAX
from relaygate.core.errors import InvalidRequest
from relaygate.core.money import format_money, parse_money
from relaygate.web.i18n import N_

__all__ = ["KeyForm", "KeyInput", "key_status", "read_key_form"]

REMARK_LENGTH = 500
LIMITS = ("rpm_limit", "tpm_limit", "concurrency_limit")
TOO_LONG = N_("A name is at most 500 characters.")
NO_MODEL = N_("Choose at least one model, or allow every model.")
UNKNOWN_MODEL = N_("Choose models from the list.")
BAD_DATE = N_("Enter a date as YYYY-MM-DD, or leave it empty.")
PAST_DATE = N_("Choose a day after today.")
BAD_AMOUNT = N_("Enter an amount such as 5 or 0.25 (at most six decimals), or 0 for no cap.")
BAD_LIMIT = N_("Enter a whole number of at least 1, or leave it empty.")


@dataclass(frozen=True, slots=True)
class KeyInput:
    """The service's arguments (accounts/service.py ``issue_key`` / ``update_key``)."""

    remark: str
    permissions: list[str] | None  # None: every model
    expired_at: datetime | None
    max_fee: int  # micro-units; 0: no cap
    rpm_limit: int | None
    tpm_limit: int | None
    concurrency_limit: int | None

    def fields(self) -> dict[str, Any]:
        return {name: getattr(self, name) for name in self.__slots__}


@dataclass(frozen=True, slots=True)
class KeyForm:
    """What the form shows: the values as typed, the models ticked, an error per field."""

    values: Mapping[str, str]
    models: frozenset[str] = frozenset()
    errors: Mapping[str, str] = field(default_factory=dict)

    @classmethod
    def blank(cls) -> KeyForm:
        return cls({"scope": "all", "max_fee": "0"})

    @classmethod
    def of(cls, row: ApiKey) -> KeyForm:
        values = {
            "remark": row.remark,
            "scope": "all" if row.permissions is None else "some",
            "expires": row.expired_at.date().isoformat() if row.expired_at else "",
            "max_fee": format_money(row.max_fee),
        }
        for name in LIMITS:
            limit = getattr(row, name)
            values[name] = "" if limit is None else str(limit)
        return cls(values, frozenset(row.permissions or ()))


def _expiry(text: str, current: ApiKey | None, today: date) -> datetime | None:
    if not text:
        return None
    if current is not None and current.expired_at and current.expired_at.date().isoformat() == text:
        return current.expired_at  # unchanged: keep the exact time the key had
    try:
        day = date.fromisoformat(text)
    except ValueError as exc:
        raise InvalidRequest(BAD_DATE, param="expires") from exc
    if day <= today:
        raise InvalidRequest(PAST_DATE, param="expires")
    return datetime(day.year, day.month, day.day, tzinfo=UTC)


def _amount(text: str) -> int:
    try:
        micro = parse_money(text or "0", "max_fee")
    except InvalidRequest as exc:
        raise InvalidRequest(BAD_AMOUNT, param="max_fee") from exc
    if micro < 0:
        raise InvalidRequest(BAD_AMOUNT, param="max_fee")
    return micro


def _limit(text: str, name: str) -> int | None:
    if not text:
        return None
    if not text.isdigit() or not 1 <= int(text) <= INT32_MAX:
        raise InvalidRequest(BAD_LIMIT, param=name)
    return int(text)


def _permissions(scope: str, chosen: list[str], offered: Collection[str]) -> list[str] | None:
    if scope != "some":
        return None
    if not chosen:
        raise InvalidRequest(NO_MODEL, param="models")
    if any(name not in offered for name in chosen):
        raise InvalidRequest(UNKNOWN_MODEL, param="models")
    return sorted(set(chosen))


def read_key_form(
    form: Mapping[str, Any],
    chosen: list[str],
    offered: Collection[str],
    *,
    today: date,
    current: ApiKey | None = None,
) -> tuple[KeyInput | None, KeyForm]:
    """The input when every field is right, else None and the form with its errors."""
    values = {
        name: str(form.get(name, "")).strip()
        for name in ("remark", "scope", "expires", "max_fee", *LIMITS)
    }
    errors: dict[str, str] = {}

    def check(name: str, step: Any, *args: Any) -> Any:
        try:
            return step(*args)
        except InvalidRequest as exc:
            errors[exc.param or name] = exc.message
            return None

    if len(values["remark"]) > REMARK_LENGTH:
        errors["remark"] = TOO_LONG
    permissions = check("models", _permissions, values["scope"], chosen, offered)
    expired_at = check("expires", _expiry, values["expires"], current, today)
    max_fee = check("max_fee", _amount, values["max_fee"])
    limits = {name: check(name, _limit, values[name], name) for name in LIMITS}
    shown = KeyForm(values, frozenset(chosen), errors)
    if errors:
        return None, shown
    fields = KeyInput(values["remark"], permissions, expired_at, max_fee, **limits)
    return fields, shown


def key_status(row: ApiKey, now: datetime) -> str:
    """A msgid: why the key works or not, the first reason that applies."""
    if row.is_disabled:
        return N_("Disabled")
    if row.expired_at is not None and row.expired_at <= now:
        return N_("Expired")
    if row.max_fee and row.used_fee >= row.max_fee:
        return N_("Spend cap reached")
    return N_("Active")
