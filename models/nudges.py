"""Nudges and every answer to them: loop-ins, help offers and help requests."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, Index, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from models.base import PLATFORM_ID_LENGTH, Base, utcnow


class Nudge(Base):
    __tablename__ = "nudges"
    __table_args__ = (
        # One nudge per deal or ticket per moment in the whole workspace: asking about it in two channels would split
        # the answers. Manual nudges have no subject and are never merged. Its index answers the first question asked
        # while deciding on every event (habits/nudging.py): was this moment of this deal asked about already.
        UniqueConstraint("workspace_id", "subject_key", "juncture"),
        # The second: how many nudges did this channel get in the past hour.
        Index("ix_nudges_channel_deliver_after", "workspace_id", "channel_id", "deliver_after"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    workspace_id: Mapped[str] = mapped_column(ForeignKey("workspaces.id"), index=True)
    channel_id: Mapped[str] = mapped_column(String(PLATFORM_ID_LENGTH), index=True)
    subject_key: Mapped[str | None] = mapped_column(String(512))
    juncture: Mapped[str] = mapped_column(String(160))
    event_id: Mapped[int | None] = mapped_column(ForeignKey("events.id"))
    title: Mapped[str] = mapped_column(Text)
    created_by: Mapped[str | None] = mapped_column(String(PLATFORM_ID_LENGTH))
    status: Mapped[str] = mapped_column(String(16), default="scheduled")
    suppressed_reason: Mapped[str | None] = mapped_column(String(64))
    deliver_after: Mapped[datetime] = mapped_column(default=utcnow)
    outbox_id: Mapped[int | None] = mapped_column(ForeignKey("outbox.id"))
    thread_outbox_id: Mapped[int | None] = mapped_column(ForeignKey("outbox.id"))
    first_answer_at: Mapped[datetime | None]
    created_at: Mapped[datetime] = mapped_column(default=utcnow, index=True)


class LoopIn(Base):
    __tablename__ = "loop_ins"
    __table_args__ = (UniqueConstraint("nudge_id", "by_user", "looped_user"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    workspace_id: Mapped[str] = mapped_column(ForeignKey("workspaces.id"), index=True)
    nudge_id: Mapped[int] = mapped_column(ForeignKey("nudges.id"), index=True)
    by_user: Mapped[str] = mapped_column(String(PLATFORM_ID_LENGTH))
    # None records the explicit answer "nobody else needs to know".
    looped_user: Mapped[str | None] = mapped_column(String(PLATFORM_ID_LENGTH))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class HelpExchange(Base):
    __tablename__ = "help_exchanges"

    id: Mapped[int] = mapped_column(primary_key=True)
    workspace_id: Mapped[str] = mapped_column(ForeignKey("workspaces.id"), index=True)
    nudge_id: Mapped[int] = mapped_column(ForeignKey("nudges.id"), index=True)
    user_id: Mapped[str] = mapped_column(String(PLATFORM_ID_LENGTH))
    kind: Mapped[str] = mapped_column(String(16))  # "offer" or "request"
    category: Mapped[str] = mapped_column(String(32))
    text: Mapped[str] = mapped_column(Text)
    resolved_at: Mapped[datetime | None]
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
