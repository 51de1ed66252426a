"""The outbox: every message whoelse sends is a row here first, keyed so that it is sent exactly once.

A row is written (and committed) before anything is sent. The delivery worker claims it, sends it and records the
platform's message id; a crash between sending and recording leaves the row "sending", and the next worker checks
the channel for the idempotency key before sending again.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import ForeignKey, Index, String, Text, UniqueConstraint, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Mapped, mapped_column

from habits.messages import Message
from models.base import PLATFORM_ID_LENGTH, Base, utcnow
from models.db import insert_skipping_duplicates

PENDING = "pending"
SENDING = "sending"
SENT = "sent"
FAILED = "failed"


class OutboxMessage(Base):
    __tablename__ = "outbox"
    __table_args__ = (
        UniqueConstraint("workspace_id", "idempotency_key"),
        Index("ix_outbox_due", "status", "not_before"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    workspace_id: Mapped[str] = mapped_column(ForeignKey("workspaces.id"))
    idempotency_key: Mapped[str] = mapped_column(String(255))
    # Exactly one of channel_id (a channel or conversation) and dm_user_id (a direct message) is set.
    channel_id: Mapped[str | None] = mapped_column(String(PLATFORM_ID_LENGTH))
    dm_user_id: Mapped[str | None] = mapped_column(String(PLATFORM_ID_LENGTH))
    # Set for "only you can see this" messages.
    ephemeral_user_id: Mapped[str | None] = mapped_column(String(PLATFORM_ID_LENGTH))
    message: Mapped[dict[str, Any]]
    # Threading: reply under another outbox row once it is sent, or under a known platform message id.
    thread_parent_id: Mapped[int | None] = mapped_column(ForeignKey("outbox.id"))
    thread_ts: Mapped[str | None] = mapped_column(String(PLATFORM_ID_LENGTH))
    # An edit of a message this outbox already sent, instead of a new post.
    update_of_id: Mapped[int | None] = mapped_column(ForeignKey("outbox.id"))
    status: Mapped[str] = mapped_column(String(16), default=PENDING)
    attempts: Mapped[int] = mapped_column(default=0)
    not_before: Mapped[datetime] = mapped_column(default=utcnow)
    lease_until: Mapped[datetime | None]
    attempt_started_at: Mapped[datetime | None]
    # When the first attempt began; never moved by later ones. A post Slack stored but answered with an error can be
    # that old when a retry looks for it, so the channel is searched from here, not from the latest attempt.
    first_attempt_at: Mapped[datetime | None]
    last_error: Mapped[str | None] = mapped_column(Text)
    sent_channel_id: Mapped[str | None] = mapped_column(String(PLATFORM_ID_LENGTH))
    sent_ts: Mapped[str | None] = mapped_column(String(PLATFORM_ID_LENGTH))
    sent_at: Mapped[datetime | None]
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    def neutral_message(self) -> Message:
        return Message.model_validate(self.message)


async def enqueue(
    session: AsyncSession,
    *,
    workspace_id: str,
    idempotency_key: str,
    message: Message,
    channel_id: str | None = None,
    dm_user_id: str | None = None,
    ephemeral_user_id: str | None = None,
    thread_parent_id: int | None = None,
    thread_ts: str | None = None,
    update_of_id: int | None = None,
    not_before: datetime | None = None,
) -> OutboxMessage:
    """Queue a message; queueing the same key twice returns the first row and queues nothing new."""
    if (channel_id is None) == (dm_user_id is None):
        raise ValueError("a message goes to exactly one of a channel or a person")
    row: OutboxMessage | None = await session.scalar(
        insert_skipping_duplicates(session, OutboxMessage)
        .values(
            workspace_id=workspace_id,
            idempotency_key=idempotency_key,
            channel_id=channel_id,
            dm_user_id=dm_user_id,
            ephemeral_user_id=ephemeral_user_id,
            message=message.model_dump(mode="json"),
            thread_parent_id=thread_parent_id,
            thread_ts=thread_ts,
            update_of_id=update_of_id,
            status=PENDING,
            attempts=0,
            not_before=not_before or utcnow(),
            created_at=utcnow(),
        )
        .on_conflict_do_nothing(index_elements=["workspace_id", "idempotency_key"])
        .returning(OutboxMessage)
    )
    if row is not None:
        return row
    # Queued before (the same work done again), or by a concurrent request a moment ago: the first row stands.
    existing = await find_by_key(session, workspace_id=workspace_id, idempotency_key=idempotency_key)
    if existing is None:
        raise RuntimeError(f"outbox message {idempotency_key!r} was neither queued nor found")
    return existing


async def find_by_key(session: AsyncSession, *, workspace_id: str, idempotency_key: str) -> OutboxMessage | None:
    return await session.scalar(
        select(OutboxMessage).where(
            OutboxMessage.workspace_id == workspace_id, OutboxMessage.idempotency_key == idempotency_key
        )
    )
