"""Wire models of the operator's user and key routes."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated

from pydantic import AfterValidator, BaseModel, ConfigDict, Field

from relaygate.core.bounds import Micro, PositiveCount
from relaygate.core.patch import omittable

__all__ = ["KeyCreate", "KeyOut", "KeyPatch", "NewKeyOut", "UserCreate", "UserOut", "UserPatch"]


def _as_utc(moment: datetime) -> datetime:
    """A time without a zone (``2025-01-01`` or ``2025-01-01T00:00:00``) is taken as UTC.
    A time that has no UTC equivalent (``0001-01-01T00:00:00+01:00``) is refused."""
    if moment.tzinfo is None:
        return moment.replace(tzinfo=UTC)
    try:
        return moment.astimezone(UTC)
    except OverflowError as exc:
        raise ValueError("the time is out of range in UTC") from exc


UTCTime = Annotated[datetime, AfterValidator(_as_utc)]


class UserCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    email: str = Field(min_length=3, max_length=320, pattern=r"^[^@\s]+@[^@\s]+$")
    name: str = Field(default="", max_length=200)
    group: str = Field(default="", max_length=64)


class UserPatch(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str = omittable(max_length=200)
    group: str = omittable(max_length=64)
    is_disabled: bool = omittable()


class UserOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    email: str
    name: str
    is_operator: bool
    is_disabled: bool
    group: str
    created_at: datetime


class KeyCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    remark: str = Field(default="", max_length=500)
    permissions: list[str] | None = None
    expired_at: UTCTime | None = None
    is_admin: bool = False
    max_fee: Micro = 0
    rpm_limit: PositiveCount | None = None
    tpm_limit: PositiveCount | None = None
    concurrency_limit: PositiveCount | None = None


class KeyPatch(BaseModel):
    model_config = ConfigDict(extra="forbid")

    remark: str = omittable(max_length=500)
    permissions: list[str] | None = None  # null: every model
    expired_at: UTCTime | None = None  # null: never expires
    is_disabled: bool = omittable()
    max_fee: Micro = omittable()
    rpm_limit: PositiveCount | None = None  # null: only the user's tier limits the key
    tpm_limit: PositiveCount | None = None
    concurrency_limit: PositiveCount | None = None


class KeyOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    user_id: int
    hint: str
    remark: str
    permissions: list[str] | None
    expired_at: datetime | None
    is_disabled: bool
    is_admin: bool
    max_fee: int
    used_fee: int
    used_times: int
    used_at: datetime | None
    rpm_limit: int | None
    tpm_limit: int | None
    concurrency_limit: int | None
    created_at: datetime


class NewKeyOut(KeyOut):
    key: str
