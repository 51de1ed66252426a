"""Read-only views of one workspace's outbox, for admins checking on delivery."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import case, func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from models.outbox import FAILED, PENDING, SENDING, OutboxMessage


@dataclass(frozen=True)
class QueueCounts:
    # Queued and not tried yet (or being sent right now for the first time).
    pending: int
    # Tried at least once without success (an error or a rate limit); another attempt is scheduled or under way.
    retrying: int


async def failed_messages(session: AsyncSession, *, workspace_id: str, limit: int = 10) -> list[OutboxMessage]:
    """Messages delivery gave up on, most recently attempted first."""
    last_tried = func.coalesce(OutboxMessage.attempt_started_at, OutboxMessage.created_at)
    rows = await session.scalars(
        select(OutboxMessage)
        .where(OutboxMessage.workspace_id == workspace_id, OutboxMessage.status == FAILED)
        .order_by(last_tried.desc(), OutboxMessage.id.desc())
        .limit(limit)
    )
    return list(rows)


async def count_failed(session: AsyncSession, *, workspace_id: str) -> int:
    total = await session.scalar(
        select(func.count())
        .select_from(OutboxMessage)
        .where(OutboxMessage.workspace_id == workspace_id, OutboxMessage.status == FAILED)
    )
    return int(total or 0)


async def queue_counts(session: AsyncSession, *, workspace_id: str) -> QueueCounts:
    tried = or_(OutboxMessage.attempts > 0, OutboxMessage.last_error.is_not(None))
    total, retrying = (
        await session.execute(
            select(func.count(), func.sum(case((tried, 1), else_=0))).where(
                OutboxMessage.workspace_id == workspace_id, OutboxMessage.status.in_([PENDING, SENDING])
            )
        )
    ).one()
    return QueueCounts(pending=int(total) - int(retrying or 0), retrying=int(retrying or 0))
