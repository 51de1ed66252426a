"""Channels people told whoelse to watch for deal or ticket posts."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from sqlalchemy import ForeignKey, String, UniqueConstraint, delete, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Mapped, mapped_column

from models.base import PLATFORM_ID_LENGTH, Base, utcnow

WatchKind = Literal["deals", "tickets"]


class ChannelWatch(Base):
    __tablename__ = "channel_watches"
    __table_args__ = (UniqueConstraint("workspace_id", "channel_id", "kind"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    workspace_id: Mapped[str] = mapped_column(ForeignKey("workspaces.id"), index=True)
    channel_id: Mapped[str] = mapped_column(String(PLATFORM_ID_LENGTH))
    kind: Mapped[str] = mapped_column(String(16))
    created_by: Mapped[str] = mapped_column(String(PLATFORM_ID_LENGTH))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


async def watch_channel(
    session: AsyncSession, *, workspace_id: str, channel_id: str, kind: WatchKind, user_id: str
) -> bool:
    """Returns False when the channel already watched that kind."""
    existing = await session.scalar(
        select(ChannelWatch).where(
            ChannelWatch.workspace_id == workspace_id,
            ChannelWatch.channel_id == channel_id,
            ChannelWatch.kind == kind,
        )
    )
    if existing is not None:
        return False
    session.add(ChannelWatch(workspace_id=workspace_id, channel_id=channel_id, kind=kind, created_by=user_id))
    await session.flush()
    return True


async def unwatch_channel(session: AsyncSession, *, workspace_id: str, channel_id: str, kind: WatchKind) -> bool:
    result = await session.execute(
        delete(ChannelWatch).where(
            ChannelWatch.workspace_id == workspace_id,
            ChannelWatch.channel_id == channel_id,
            ChannelWatch.kind == kind,
        )
    )
    return bool(result.rowcount)  # type: ignore[attr-defined]


async def watched_kinds(session: AsyncSession, *, workspace_id: str, channel_id: str) -> set[str]:
    rows = await session.scalars(
        select(ChannelWatch.kind).where(
            ChannelWatch.workspace_id == workspace_id, ChannelWatch.channel_id == channel_id
        )
    )
    return set(rows)


async def home_channel(session: AsyncSession, *, workspace_id: str, kind: WatchKind) -> str | None:
    """The channel that has watched this kind the longest: where webhook events without a channel go."""
    return await session.scalar(
        select(ChannelWatch.channel_id)
        .where(ChannelWatch.workspace_id == workspace_id, ChannelWatch.kind == kind)
        .order_by(ChannelWatch.created_at, ChannelWatch.id)
        .limit(1)
    )
