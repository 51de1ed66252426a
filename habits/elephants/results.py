"""Poll results: the ranking shown when a poll closes, and the elephants the round-table agenda picks up."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from models.elephants import CLOSED, ElephantPoll, ElephantSubmission

# Fewer people than this and a ranking could tell who wrote what (two people each know the other's answer).
MIN_PARTICIPANTS = 3


async def ranked_submissions(session: AsyncSession, *, workspace_id: str, poll_id: int) -> list[tuple[str, int]]:
    """(text, votes), most votes first; ties in alphabetical order so the ranking never hints at arrival order."""
    rows = await session.execute(
        select(ElephantSubmission.text, ElephantSubmission.votes)
        .where(ElephantSubmission.workspace_id == workspace_id, ElephantSubmission.poll_id == poll_id)
        .order_by(ElephantSubmission.votes.desc(), ElephantSubmission.text)
    )
    return [(text, votes) for text, votes in rows.all()]


async def top_elephants_for_agenda(
    session: AsyncSession, *, workspace_id: str, channel_id: str, since: datetime, limit: int = 5
) -> list[tuple[str, int]]:
    """The most-voted elephants of this channel's polls that closed since `since`, as (text, votes).

    Only polls that reached the participation minimum count: their results were shown to the channel anyway.
    """
    rows = await session.execute(
        select(ElephantSubmission.text, ElephantSubmission.votes)
        .join(ElephantPoll, ElephantPoll.id == ElephantSubmission.poll_id)
        .where(
            ElephantPoll.workspace_id == workspace_id,
            ElephantSubmission.workspace_id == workspace_id,
            ElephantPoll.channel_id == channel_id,
            ElephantPoll.phase == CLOSED,
            ElephantPoll.closed_at >= since,
            ElephantPoll.participants >= MIN_PARTICIPANTS,
        )
        .order_by(ElephantSubmission.votes.desc(), ElephantSubmission.text)
        .limit(limit)
    )
    return [(text, votes) for text, votes in rows.all()]
