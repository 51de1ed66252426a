"""What whoelse remembers about a person: only whether they asked it to keep quiet."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, String, delete, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Mapped, mapped_column

from models.base import PLATFORM_ID_LENGTH, Base


class Snooze(Base):
    __tablename__ = "snoozes"

    workspace_id: Mapped[str] = mapped_column(ForeignKey("workspaces.id"), primary_key=True)
    user_id: Mapped[str] = mapped_column(String(PLATFORM_ID_LENGTH), primary_key=True)
    until: Mapped[datetime]


async def snooze(session: AsyncSession, *, workspace_id: str, user_id: str, until: datetime) -> None:
    existing = await session.get(Snooze, (workspace_id, user_id))
    if existing is None:
        session.add(Snooze(workspace_id=workspace_id, user_id=user_id, until=until))
    else:
        existing.until = until
    await session.flush()


async def unsnooze(session: AsyncSession, *, workspace_id: str, user_id: str) -> bool:
    result = await session.execute(
        delete(Snooze).where(Snooze.workspace_id == workspace_id, Snooze.user_id == user_id)
    )
    return bool(result.rowcount)  # type: ignore[attr-defined]


async def snoozed_users(session: AsyncSession, *, workspace_id: str, now: datetime) -> set[str]:
    rows = await session.scalars(
        select(Snooze.user_id).where(Snooze.workspace_id == workspace_id, Snooze.until > now)
    )
    return set(rows)


async def snoozed_until(
    session: AsyncSession, *, workspace_id: str, user_id: str, now: datetime
) -> datetime | None:
    """When this person's snooze ends, or None when they are not snoozed at `now`."""
    return await session.scalar(
        select(Snooze.until).where(
            Snooze.workspace_id == workspace_id, Snooze.user_id == user_id, Snooze.until > now
        )
    )
