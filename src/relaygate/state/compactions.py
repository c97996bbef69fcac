"""Summaries Relaygate made when it compacted a conversation with the model itself.

A channel that does not serve the Responses API cannot produce OpenAI's encrypted
``compaction`` items, so Relaygate asks the model for a summary, keeps it here for the
user and gives the client a sealed reference instead (relay/compaction.py). Each row
belongs to one user: another user's id reads as missing. The sealing key is
``settings.compaction_secret`` when the operator sets one (its SHA-256), else a secret
the gateway generates on first start and keeps in ``server_secrets``, so every replica
and every restart can open the references the others made.
"""

from __future__ import annotations

import hashlib
import secrets

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from relaygate.core.clock import utcnow
from relaygate.db.engine import Database
from relaygate.state.models import CompactionSummary, ServerSecret

__all__ = ["COMPACTION_KEY", "Compactions"]

COMPACTION_KEY = "compaction_seal"  # the server secret that seals compaction references


class Compactions:
    def __init__(self, db: Database, configured_secret: str | None = None) -> None:
        self.db = db
        self._secrets: dict[str, bytes] = {}  # read once per process: secrets never change
        if configured_secret:  # the operator's own (settings.compaction_secret)
            self._secrets[COMPACTION_KEY] = hashlib.sha256(configured_secret.encode()).digest()

    async def save(self, user_id: int, summary_id: str, model: str, summary: str) -> None:
        row = CompactionSummary(
            id=summary_id, user_id=user_id, created_at=utcnow(), model=model, summary=summary
        )
        async with self.db.session() as session, session.begin():
            session.add(row)

    async def summary(self, user_id: int, summary_id: str) -> str | None:
        """The summary text, or None when the user has no such summary."""
        async with self.db.session() as session:
            row = await session.scalar(
                select(CompactionSummary).where(
                    CompactionSummary.id == summary_id, CompactionSummary.user_id == user_id
                )
            )
        return None if row is None else row.summary

    async def secret(self, name: str = COMPACTION_KEY) -> bytes:
        """The named server secret, generated and stored on its first use (when two
        replicas race to create it, the first one stored wins and both use it)."""
        cached = self._secrets.get(name)
        if cached is not None:
            return cached
        value = await self._stored_secret(name)
        if value is None:
            try:
                async with self.db.session() as session, session.begin():
                    session.add(
                        ServerSecret(name=name, value=secrets.token_hex(32), created_at=utcnow())
                    )
            except IntegrityError:
                pass  # another replica stored it first
            value = await self._stored_secret(name)
            assert value is not None
        key = self._secrets[name] = bytes.fromhex(value)
        return key

    async def _stored_secret(self, name: str) -> str | None:
        async with self.db.session() as session:
            row = await session.get(ServerSecret, name)
        return None if row is None else row.value
