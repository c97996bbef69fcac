"""Tables of the state capability: stored responses, conversations and chat completions.

Every row carries its owner's ``user_id`` and every read filters on it, so another
user's id behaves exactly like an id that does not exist. Items are rows of their own
(not a JSON array inside the parent) so that a page of a long conversation or a
response chain reads only the rows it returns, and appending never rewrites the past.
Item ids are not unique keys: a client may send the same item (``fc_…``) again in a
later turn, so an item's key is its parent and its position.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import (
    JSON,
    Boolean,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
)
from sqlalchemy.orm import Mapped, mapped_column

from relaygate.core.clock import utcnow
from relaygate.db.base import Base, UTCDateTime

__all__ = [
    "Conversation",
    "ConversationItem",
    "ResponseEvents",
    "ResponseItem",
    "StoredCompletion",
    "StoredResponse",
    "CompactionSummary",
    "ServerSecret",
]

ID_LENGTH = 100  # OpenAI's ids are ~55 characters; upstream chat completion ids vary


class StoredResponse(Base):
    """A Response object as the client received it (``store`` was not false)."""

    __tablename__ = "responses"

    id: Mapped[str] = mapped_column(String(ID_LENGTH), primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, index=True)
    model: Mapped[str] = mapped_column(String(200), default="")
    status: Mapped[str] = mapped_column(String(32), default="completed", index=True)
    background: Mapped[bool] = mapped_column(Boolean, default=False)
    previous_response_id: Mapped[str | None] = mapped_column(String(ID_LENGTH), nullable=True)
    conversation_id: Mapped[str | None] = mapped_column(String(ID_LENGTH), nullable=True)
    body: Mapped[dict[str, Any]] = mapped_column(JSON)


class ResponseItem(Base):
    """One input or output item of a stored response, in the order the model saw it."""

    __tablename__ = "response_items"

    response_id: Mapped[str] = mapped_column(
        ForeignKey("responses.id", ondelete="CASCADE"), primary_key=True
    )
    position: Mapped[int] = mapped_column(Integer, primary_key=True)
    item_id: Mapped[str] = mapped_column(String(ID_LENGTH))
    user_id: Mapped[int] = mapped_column(Integer)
    role: Mapped[str] = mapped_column(String(8))  # "input" | "output"
    item: Mapped[dict[str, Any]] = mapped_column(JSON)


class ResponseEvents(Base):
    """A batch of a background response's stream events, numbered and shaped exactly as
    they were sent, so ``GET /v1/responses/{id}?stream=true`` replays them. A batch is
    what the run wrote at once (one row per flush, not per delta)."""

    __tablename__ = "response_events"

    response_id: Mapped[str] = mapped_column(
        ForeignKey("responses.id", ondelete="CASCADE"), primary_key=True
    )
    first: Mapped[int] = mapped_column(Integer, primary_key=True)  # events[0]'s sequence_number
    last: Mapped[int] = mapped_column(Integer)
    events: Mapped[list[dict[str, Any]]] = mapped_column(JSON)


class Conversation(Base):
    """A conversation: its metadata and the counter that numbers its items.

    ``next_position`` is bumped with ``UPDATE … RETURNING`` by every append, which both
    checks ownership and serialises concurrent appends to the same conversation.
    """

    __tablename__ = "conversations"

    id: Mapped[str] = mapped_column(String(ID_LENGTH), primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, index=True)
    meta: Mapped[dict[str, Any]] = mapped_column("metadata", JSON, default=dict)
    next_position: Mapped[int] = mapped_column(Integer, default=0)


class ConversationItem(Base):
    """An item of a conversation; ``response_id`` names the response that added it."""

    __tablename__ = "conversation_items"
    __table_args__ = (
        Index("ix_conversation_items_conversation_id_item_id", "conversation_id", "item_id"),
    )

    conversation_id: Mapped[str] = mapped_column(
        ForeignKey("conversations.id", ondelete="CASCADE"), primary_key=True
    )
    position: Mapped[int] = mapped_column(Integer, primary_key=True)
    item_id: Mapped[str] = mapped_column(String(ID_LENGTH))
    user_id: Mapped[int] = mapped_column(Integer)
    response_id: Mapped[str | None] = mapped_column(String(ID_LENGTH), nullable=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    item: Mapped[dict[str, Any]] = mapped_column(JSON)


class StoredCompletion(Base):
    """A chat completion created with ``store: true``, with the messages that asked for it.

    The key is (user, id): the id comes from the upstream, and two users' upstreams may
    hand out the same one.
    """

    __tablename__ = "stored_completions"
    __table_args__ = (Index("ix_stored_completions_user_id_created_at", "user_id", "created_at"),)

    user_id: Mapped[int] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE"), primary_key=True
    )
    id: Mapped[str] = mapped_column(String(ID_LENGTH), primary_key=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, index=True)
    model: Mapped[str] = mapped_column(String(200), default="")
    meta: Mapped[dict[str, Any]] = mapped_column("metadata", JSON, default=dict)
    messages: Mapped[list[Any]] = mapped_column(JSON)
    completion: Mapped[dict[str, Any]] = mapped_column(JSON)


class CompactionSummary(Base):
    """The summary of a conversation that Relaygate compacted with the model itself
    (relay/compaction.py): the client holds only a sealed reference to it (the
    ``compaction`` item's ``encrypted_content``), which later turns expand into this text."""

    __tablename__ = "compaction_summaries"

    id: Mapped[str] = mapped_column(String(ID_LENGTH), primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, index=True)
    model: Mapped[str] = mapped_column(String(200), default="")
    summary: Mapped[str] = mapped_column(Text)


class ServerSecret(Base):
    """A secret the gateway made for itself on first use (the key that seals compaction
    references), kept in the database so that every replica and every restart shares it."""

    __tablename__ = "server_secrets"

    name: Mapped[str] = mapped_column(String(64), primary_key=True)
    value: Mapped[str] = mapped_column(String(200))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
