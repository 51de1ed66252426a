"""What a round-table should talk about: the week's elephants, help still asked for, and silence on deals and tickets."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import exists, select
from sqlalchemy.ext.asyncio import AsyncSession

from habits.elephants.results import top_elephants_for_agenda
from habits.roundtables.messages import AgendaItems
from models.nudges import HelpExchange, LoopIn, Nudge

# Enough to discuss in one meeting.
MAX_ITEMS = 10
SUPPRESSED = "suppressed"


async def agenda_items(
    session: AsyncSession, *, workspace_id: str, channel_id: str, since: datetime, until: datetime
) -> AgendaItems:
    return AgendaItems(
        elephants=await top_elephants_for_agenda(
            session, workspace_id=workspace_id, channel_id=channel_id, since=since
        ),
        help_requests=await open_help_requests(
            session, workspace_id=workspace_id, channel_id=channel_id, since=since, until=until
        ),
        unanswered=await unanswered_nudges(
            session, workspace_id=workspace_id, channel_id=channel_id, since=since, until=until
        ),
    )


async def open_help_requests(
    session: AsyncSession, *, workspace_id: str, channel_id: str, since: datetime, until: datetime
) -> list[tuple[str, str, str, str]]:
    """(who asked, category, what about, what they asked) for requests made since the last meeting, still open."""
    rows = await session.execute(
        select(HelpExchange.user_id, HelpExchange.category, Nudge.title, HelpExchange.text)
        .join(Nudge, Nudge.id == HelpExchange.nudge_id)
        .where(
            HelpExchange.workspace_id == workspace_id,
            Nudge.workspace_id == workspace_id,
            Nudge.channel_id == channel_id,
            HelpExchange.kind == "request",
            HelpExchange.resolved_at.is_(None),
            HelpExchange.created_at >= since,
            HelpExchange.created_at < until,
        )
        .order_by(HelpExchange.created_at, HelpExchange.id)
        .limit(MAX_ITEMS)
    )
    return [(user, category, title, text) for user, category, title, text in rows]


async def unanswered_nudges(
    session: AsyncSession, *, workspace_id: str, channel_id: str, since: datetime, until: datetime
) -> list[str]:
    """Deals and tickets nudged here since the last meeting that nobody looped anyone in on or offered help for."""
    looped = exists().where(LoopIn.nudge_id == Nudge.id, LoopIn.workspace_id == workspace_id)
    helped = exists().where(HelpExchange.nudge_id == Nudge.id, HelpExchange.workspace_id == workspace_id)
    titles = await session.scalars(
        select(Nudge.title)
        .where(
            Nudge.workspace_id == workspace_id,
            Nudge.channel_id == channel_id,
            Nudge.subject_key.is_not(None),
            Nudge.status != SUPPRESSED,
            Nudge.outbox_id.is_not(None),
            Nudge.deliver_after >= since,
            Nudge.deliver_after < until,
            ~looped,
            ~helped,
        )
        .order_by(Nudge.deliver_after, Nudge.id)
        .limit(MAX_ITEMS)
    )
    return list(titles)
