"""Wire models of the usage (bill) routes."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from pydantic import BaseModel, ConfigDict

__all__ = ["UsageOut", "UsageQuery"]


@dataclass(frozen=True, slots=True)
class UsageQuery:
    request_id: str | None = None
    user_id: int | None = None
    key_id: int | None = None
    limit: int = 100


class UsageOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

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
