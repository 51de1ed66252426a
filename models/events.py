"""Deal and ticket events as received, whatever the source: the input of the who-else habit."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import ForeignKey, Index, String, Text, UniqueConstraint, func, select, text
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Mapped, mapped_column

from models.base import PLATFORM_ID_LENGTH, Base, utcnow

# The sender's own id makes a retried or repeated delivery a no-op instead of a second nudge.
SENDERS_EVENT_KEY = ("workspace_id", "source", "external_id")


class ReceivedEvent(Base):
    __tablename__ = "events"
    __table_args__ = (
        UniqueConstraint(*SENDERS_EVENT_KEY),
        # What the intake looks for on every pass (see migrations/versions/0005_event_indexes.py).
        Index(
            "ix_events_undecided",
            "id",
            sqlite_where=text("outcome IS NULL"),
            postgresql_where=text("outcome IS NULL"),
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    workspace_id: Mapped[str] = mapped_column(ForeignKey("workspaces.id"))
    source: Mapped[str] = mapped_column(String(32))
    external_id: Mapped[str] = mapped_column(String(255))
    kind: Mapped[str] = mapped_column(String(16))
    event: Mapped[str] = mapped_column(String(64))
    subject_key: Mapped[str] = mapped_column(String(512))
    title: Mapped[str] = mapped_column(Text)
    url: Mapped[str | None] = mapped_column(Text)
    account: Mapped[str | None] = mapped_column(String(255))
    stage: Mapped[str | None] = mapped_column(String(128))
    priority: Mapped[str | None] = mapped_column(String(32))
    owner: Mapped[str | None] = mapped_column(String(255))
    channel_id: Mapped[str | None] = mapped_column(String(PLATFORM_ID_LENGTH))
    payload: Mapped[dict[str, Any]] = mapped_column(default=dict)
    outcome: Mapped[str | None] = mapped_column(String(64))
    received_at: Mapped[datetime] = mapped_column(default=utcnow)


async def stored_event_id(
    session: AsyncSession, *, workspace_id: str, source: str, external_id: str
) -> int | None:
    """The id under which the sender's event was first stored, if it was."""
    return await session.scalar(
        select(ReceivedEvent.id).where(
            ReceivedEvent.workspace_id == workspace_id,
            ReceivedEvent.source == source,
            ReceivedEvent.external_id == external_id,
        )
    )


async def count_unplaced_events(session: AsyncSession, *, workspace_id: str, since: datetime) -> dict[str, int]:
    """Recent events whoelse could not act on, by outcome: nowhere to post (`no_channel`) or unreadable (`error`)."""
    rows = await session.execute(
        select(ReceivedEvent.outcome, func.count())
        .where(
            ReceivedEvent.workspace_id == workspace_id,
            ReceivedEvent.received_at >= since,
            ReceivedEvent.outcome.in_(UNPLACED_OUTCOMES),
        )
        .group_by(ReceivedEvent.outcome)
    )
    return {str(outcome): int(total) for outcome, total in rows.all()}


UNPLACED_OUTCOMES = ("no_channel", "error")
