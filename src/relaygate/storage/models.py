"""Tables of the storage capability: a file's metadata, and its tags for filtering.

The bytes live in the blob store under the file's ``uid`` (never its user-given name);
the row is the file's existence: a file is served only while its row exists and has not
expired, so deleting the row first makes a file vanish from every route at once, and the
blob is removed after.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, BigInteger, Boolean, ForeignKey, Index, Integer, SmallInteger, String
from sqlalchemy.orm import Mapped, mapped_column

from relaygate.core.clock import utcnow
from relaygate.db.base import Base, UTCDateTime

__all__ = ["FileTag", "StoredFile"]


class StoredFile(Base):
    __tablename__ = "files"
    __table_args__ = (
        Index("ix_files_user_id_created_at", "user_id", "created_at"),
        {"sqlite_autoincrement": True},  # ids never reused
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    uid: Mapped[str] = mapped_column(String(21), unique=True)  # the platform's fileUniqueID
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    filename: Mapped[str] = mapped_column(String(255))  # a display name only, never a path
    purpose: Mapped[int] = mapped_column(SmallInteger, default=0)
    is_public: Mapped[bool] = mapped_column(Boolean, default=False)
    tags: Mapped[list[Any]] = mapped_column(JSON, default=list)
    size: Mapped[int] = mapped_column(BigInteger)
    mime_type: Mapped[str] = mapped_column(String(127))
    sha256: Mapped[str] = mapped_column(String(64))
    expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True, index=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class FileTag(Base):
    """One tag of one file: the ``tags`` filter of a listing is a join, the same on both
    databases (a JSON containment test is not)."""

    __tablename__ = "file_tags"

    file_id: Mapped[int] = mapped_column(
        ForeignKey("files.id", ondelete="CASCADE"), primary_key=True
    )
    tag: Mapped[str] = mapped_column(String(64), primary_key=True, index=True)
