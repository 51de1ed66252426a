"""A workspace is one Slack team (or Teams tenant): the tenant every other row belongs to."""

from __future__ import annotations

from datetime import datetime, time

from sqlalchemy import ColumnElement, SQLColumnExpression, String, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Mapped, mapped_column

from models.base import WORKSPACE_ID_LENGTH, Base, utcnow

DEFAULT_JUNCTURES = [
    "deal.created",
    "deal.stage_changed",
    "deal.closed_won",
    "deal.closed_lost",
    "ticket.escalated",
    "ticket.reopened",
    "ticket.priority_raised",
]

STEERING_ANYONE = "anyone"
STEERING_ADMINS = "admins_and_creator"
STEERING_CHOICES = (STEERING_ANYONE, STEERING_ADMINS)


class Workspace(Base):
    __tablename__ = "workspaces"

    id: Mapped[str] = mapped_column(String(WORKSPACE_ID_LENGTH), primary_key=True)
    platform: Mapped[str] = mapped_column(String(16), default="slack")
    timezone: Mapped[str] = mapped_column(String(64), default="UTC")
    quiet_start: Mapped[time | None] = mapped_column(default=time(19, 0))
    quiet_end: Mapped[time | None] = mapped_column(default=time(8, 0))
    hourly_cap: Mapped[int] = mapped_column(default=6)
    junctures: Mapped[list[str]] = mapped_column(default=lambda: list(DEFAULT_JUNCTURES))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    # Who may start, stop and reschedule elephant polls and round-tables: STEERING_ANYONE or STEERING_ADMINS.
    # Filled by the database (read back on insert), so rows written by older code or older revisions get it too.
    poll_steering: Mapped[str] = mapped_column(String(32), server_default=STEERING_ANYONE)
    # When the workspace removed whoelse (Slack's app_uninstalled, or its bot token revoked): nothing is sent to it
    # and none of its jobs run from then on, and its data is deleted once the grace period has passed. A reinstall
    # clears it.
    uninstalled_at: Mapped[datetime | None] = mapped_column(default=None)

    __mapper_args__ = {"eager_defaults": True}  # noqa: RUF012 (read once by the mapper, never changed)


async def get_or_create_workspace(
    session: AsyncSession, *, workspace_id: str, default_timezone: str = "UTC", platform: str = "slack"
) -> Workspace:
    workspace = await session.get(Workspace, workspace_id)
    if workspace is None:
        workspace = Workspace(
            id=workspace_id,
            platform=platform,
            timezone=default_timezone,
            quiet_start=time(19, 0),
            quiet_end=time(8, 0),
            hourly_cap=6,
            junctures=list(DEFAULT_JUNCTURES),
            poll_steering=STEERING_ANYONE,
        )
        try:
            async with session.begin_nested():
                session.add(workspace)
        except IntegrityError:
            # A concurrent request (the first two events of a new workspace) created it first.
            created = await session.get(Workspace, workspace_id)
            if created is None:
                raise
            return created
    return workspace


def still_served(workspace_column: SQLColumnExpression[str]) -> ColumnElement[bool]:
    """A condition for queries across workspaces (the scheduler's sweeps): the row's workspace has not removed
    whoelse."""
    return workspace_column.not_in(select(Workspace.id).where(Workspace.uninstalled_at.is_not(None)))


async def uninstalled_workspaces(session: AsyncSession) -> set[str]:
    return set(await session.scalars(select(Workspace.id).where(Workspace.uninstalled_at.is_not(None))))
