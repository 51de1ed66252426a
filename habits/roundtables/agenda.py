"""What a round-table should talk about: what earlier meetings left open, the elephants named since, help still
asked for, and silence on deals and tickets.

The agenda is worked out each time it is shown, so a poll that closes after the first reminder still reaches the
meeting: every poll of the channel that closed before the meeting and is on no earlier agenda is this meeting's.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from zoneinfo import ZoneInfo

from sqlalchemy import exists, select
from sqlalchemy.ext.asyncio import AsyncSession

from habits.elephants.results import MIN_PARTICIPANTS
from habits.roundtables.messages import AgendaElephant, AgendaItems, FollowUp
from models.elephants import ElephantPoll, ElephantSubmission
from models.nudges import HelpExchange, LoopIn, Nudge
from models.roundtable_outcomes import claim_polls, open_action_items
from models.roundtables import RoundTable, RoundTableMeeting

# Enough to discuss in one meeting.
MAX_ITEMS = 10
MAX_ELEPHANTS = 5
SUPPRESSED = "suppressed"


async def agenda_items(
    session: AsyncSession,
    *,
    roundtable: RoundTable,
    meeting: RoundTableMeeting,
    since: datetime,
    until: datetime,
) -> AgendaItems:
    workspace_id, channel_id = roundtable.workspace_id, roundtable.channel_id
    return AgendaItems(
        follow_ups=await follow_ups(session, roundtable=roundtable, meeting=meeting, today_at=until),
        elephants=await elephants_on_agenda(session, roundtable=roundtable, meeting=meeting),
        help_requests=await open_help_requests(
            session, workspace_id=workspace_id, channel_id=channel_id, since=since, until=until
        ),
        unanswered=await unanswered_nudges(
            session, workspace_id=workspace_id, channel_id=channel_id, since=since, until=until
        ),
    )


async def elephants_on_agenda(
    session: AsyncSession, *, roundtable: RoundTable, meeting: RoundTableMeeting
) -> list[AgendaElephant]:
    """The most-voted elephants of the polls on this meeting's agenda, taking up every poll newly due for it.

    Only polls that reached the participation minimum count: their results were shown to the channel anyway.
    """
    poll_ids = await claim_polls(
        session,
        workspace_id=roundtable.workspace_id,
        channel_id=roundtable.channel_id,
        meeting_id=meeting.id,
        closed_after=roundtable.created_at,
        closed_before=meeting.starts_at,
    )
    return await top_elephants(session, workspace_id=roundtable.workspace_id, poll_ids=poll_ids)


async def top_elephants(
    session: AsyncSession, *, workspace_id: str, poll_ids: Sequence[int], limit: int = MAX_ELEPHANTS
) -> list[AgendaElephant]:
    if not poll_ids:
        return []
    rows = await session.execute(
        select(
            ElephantSubmission.id, ElephantSubmission.poll_id, ElephantSubmission.text, ElephantSubmission.votes
        )
        .join(ElephantPoll, ElephantPoll.id == ElephantSubmission.poll_id)
        .where(
            ElephantPoll.workspace_id == workspace_id,
            ElephantSubmission.workspace_id == workspace_id,
            ElephantPoll.id.in_(list(poll_ids)),
            ElephantPoll.participants >= MIN_PARTICIPANTS,
        )
        # Ties in alphabetical order, so the order never hints at who named what first.
        .order_by(ElephantSubmission.votes.desc(), ElephantSubmission.text, ElephantSubmission.id)
        .limit(limit)
    )
    return [AgendaElephant(key, poll_id, text, votes) for key, poll_id, text, votes in rows.all()]


async def follow_ups(
    session: AsyncSession, *, roundtable: RoundTable, meeting: RoundTableMeeting, today_at: datetime
) -> list[FollowUp]:
    """Action items earlier meetings of this round-table left open, soonest due first; overdue by the channel's
    calendar."""
    earlier = await session.scalars(
        select(RoundTableMeeting.id).where(
            RoundTableMeeting.workspace_id == roundtable.workspace_id,
            RoundTableMeeting.roundtable_id == roundtable.id,
            RoundTableMeeting.starts_at < meeting.starts_at,
        )
    )
    today = today_at.astimezone(ZoneInfo(roundtable.timezone)).date()
    items = await open_action_items(session, workspace_id=roundtable.workspace_id, meeting_ids=list(earlier))
    return [
        FollowUp(text=item.text, owner_id=item.owner_id, due_on=item.due_on, overdue=item.due_on < today)
        for item in items[:MAX_ITEMS]
    ]


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
