"""Poll results: the ranking shown when a poll closes, and how many must take part for it to be shown."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from models.elephants import ElephantSubmission

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
