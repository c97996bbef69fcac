"""Who is calling: the cached, immutable view of an authenticated API key."""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["Principal"]


@dataclass(frozen=True, slots=True)
class Principal:
    user_id: int
    key_id: int
    is_admin: bool
    is_operator: bool
    permissions: frozenset[str] | None
    expires_at: float | None  # epoch seconds
    max_fee: int = 0  # the key's spending cap in micro-units; 0: none
    used_fee: int = 0  # spent when this view was loaded (at most key_cache_ttl old)
    rpm: int | None = None  # the key's own limits, on top of the user's tier
    tpm: int | None = None
    concurrency: int | None = None
    group: str = ""  # the user's pricing group

    def may_use(self, model: str) -> bool:
        return self.permissions is None or model in self.permissions
