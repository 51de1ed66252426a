"""Closing a poll before its time: for whoever started it (or set its weekly schedule) and workspace admins."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from habits.elephants.polls import close_poll
from habits.steering import Steerer, may_close_early
from models.elephants import CLOSED, ElephantPoll, ElephantSchedule, open_poll_in_channel, poll_in_channel

CloseOutcome = Literal["closed", "no_open_poll", "not_allowed"]


async def starter_of(session: AsyncSession, poll: ElephantPoll) -> str | None:
    """Who started the poll: who ran `elephant now`, or for a weekly poll who set the schedule."""
    if poll.started_by is not None or poll.schedule_id is None:
        return poll.started_by
    return await session.scalar(
        select(ElephantSchedule.created_by).where(
            ElephantSchedule.workspace_id == poll.workspace_id, ElephantSchedule.id == poll.schedule_id
        )
    )


async def close_early(
    session: AsyncSession,
    *,
    workspace_id: str,
    channel_id: str,
    steerer: Steerer,
    now: datetime,
    poll_id: int | None = None,
) -> CloseOutcome:
    """Closes the channel's open poll (or the one `poll_id` names, if it runs here) now, results and all.

    Only its starter and workspace admins may; the minimum turnout for showing results holds as at any close.
    """
    if poll_id is None:
        current = await open_poll_in_channel(session, workspace_id=workspace_id, channel_id=channel_id)
        poll_id = current.id if current is not None else None
    poll = (
        None
        if poll_id is None
        else await poll_in_channel(
            session, workspace_id=workspace_id, channel_id=channel_id, poll_id=poll_id, for_update=True
        )
    )
    if poll is None or poll.phase == CLOSED:
        return "no_open_poll"
    if not may_close_early(steerer, started_by=await starter_of(session, poll)):
        return "not_allowed"
    await close_poll(session, poll, now)
    return "closed"
