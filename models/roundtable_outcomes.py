"""What round-tables did about each elephant: which polls each meeting's agenda took up, the pain point and decision
recorded per elephant, and the action items that follow up on them.

Nothing here says who named an elephant: an elephant is known by its submission's random key, and the people stored
are the note taker and each action item's owner.
"""

from __future__ import annotations

from collections.abc import Collection
from datetime import date, datetime

from sqlalchemy import ForeignKey, String, Text, UniqueConstraint, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Mapped, mapped_column

from models.base import PLATFORM_ID_LENGTH, Base, utcnow
from models.elephants import CLOSED, ElephantPoll


class RoundTableAgendaPoll(Base):
    """A closed poll taken up by one meeting's agenda; no poll is on two meetings' agendas."""

    __tablename__ = "roundtable_agenda_polls"
    __table_args__ = (UniqueConstraint("workspace_id", "poll_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    workspace_id: Mapped[str] = mapped_column(ForeignKey("workspaces.id"))
    meeting_id: Mapped[int] = mapped_column(ForeignKey("roundtable_meetings.id"), index=True)
    poll_id: Mapped[int] = mapped_column(ForeignKey("elephant_polls.id"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class RoundTableOutcome(Base):
    """The pain point behind one elephant and what the meeting decided about it."""

    __tablename__ = "roundtable_outcomes"
    __table_args__ = (UniqueConstraint("meeting_id", "submission_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    workspace_id: Mapped[str] = mapped_column(ForeignKey("workspaces.id"))
    meeting_id: Mapped[int] = mapped_column(ForeignKey("roundtable_meetings.id"), index=True)
    poll_id: Mapped[int] = mapped_column(ForeignKey("elephant_polls.id"), index=True)
    # The elephant's key. No foreign key: closing a poll rewrites its submissions so their storage order says
    # nothing, and a constraint would pin them.
    submission_id: Mapped[str] = mapped_column(String(36))
    pain_point: Mapped[str] = mapped_column(Text, default="")
    decision: Mapped[str] = mapped_column(Text, default="")
    recorded_by: Mapped[str] = mapped_column(String(PLATFORM_ID_LENGTH))
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)


class RoundTableActionItem(Base):
    """Something one person follows up on by a date; a few per elephant per meeting, one per row of the form."""

    __tablename__ = "roundtable_action_items"
    __table_args__ = (UniqueConstraint("meeting_id", "submission_id", "position"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    workspace_id: Mapped[str] = mapped_column(ForeignKey("workspaces.id"))
    meeting_id: Mapped[int] = mapped_column(ForeignKey("roundtable_meetings.id"), index=True)
    submission_id: Mapped[str] = mapped_column(String(36))
    # Its row among the elephant's action items in the notes form, from 1.
    position: Mapped[int] = mapped_column(default=1)
    text: Mapped[str] = mapped_column(Text)
    owner_id: Mapped[str] = mapped_column(String(PLATFORM_ID_LENGTH))
    due_on: Mapped[date] = mapped_column(index=True)
    done_at: Mapped[datetime | None]
    # The one reminder before the due date, once queued.
    reminder_outbox_id: Mapped[int | None] = mapped_column(ForeignKey("outbox.id"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


async def polls_on_agendas(session: AsyncSession, *, workspace_id: str, meeting_id: int) -> list[int]:
    rows = await session.scalars(
        select(RoundTableAgendaPoll.poll_id)
        .where(RoundTableAgendaPoll.workspace_id == workspace_id, RoundTableAgendaPoll.meeting_id == meeting_id)
        .order_by(RoundTableAgendaPoll.poll_id)
    )
    return list(rows)


async def claim_polls(
    session: AsyncSession,
    *,
    workspace_id: str,
    channel_id: str,
    meeting_id: int,
    closed_after: datetime,
    closed_before: datetime,
) -> list[int]:
    """Puts on this meeting's agenda every poll of the channel that closed between the two moments and is on no
    agenda yet; returns all the polls on this meeting's agenda."""
    taken = select(RoundTableAgendaPoll.poll_id).where(RoundTableAgendaPoll.workspace_id == workspace_id)
    new = await session.scalars(
        select(ElephantPoll.id).where(
            ElephantPoll.workspace_id == workspace_id,
            ElephantPoll.channel_id == channel_id,
            ElephantPoll.phase == CLOSED,
            ElephantPoll.closed_at >= closed_after,
            ElephantPoll.closed_at < closed_before,
            ElephantPoll.id.not_in(taken),
        )
    )
    for poll_id in new:
        try:
            async with session.begin_nested():
                session.add(
                    RoundTableAgendaPoll(workspace_id=workspace_id, meeting_id=meeting_id, poll_id=poll_id)
                )
        except IntegrityError:
            # Another meeting's agenda took it at the same moment.
            continue
    return await polls_on_agendas(session, workspace_id=workspace_id, meeting_id=meeting_id)


async def outcomes_of(session: AsyncSession, *, workspace_id: str, meeting_id: int) -> list[RoundTableOutcome]:
    rows = await session.scalars(
        select(RoundTableOutcome)
        .where(RoundTableOutcome.workspace_id == workspace_id, RoundTableOutcome.meeting_id == meeting_id)
        .order_by(RoundTableOutcome.id)
    )
    return list(rows)


async def action_items_of(
    session: AsyncSession, *, workspace_id: str, meeting_id: int
) -> list[RoundTableActionItem]:
    rows = await session.scalars(
        select(RoundTableActionItem)
        .where(RoundTableActionItem.workspace_id == workspace_id, RoundTableActionItem.meeting_id == meeting_id)
        .order_by(RoundTableActionItem.submission_id, RoundTableActionItem.position)
    )
    return list(rows)


async def open_action_items(
    session: AsyncSession, *, workspace_id: str, meeting_ids: Collection[int]
) -> list[RoundTableActionItem]:
    if not meeting_ids:
        return []
    rows = await session.scalars(
        select(RoundTableActionItem)
        .where(
            RoundTableActionItem.workspace_id == workspace_id,
            RoundTableActionItem.meeting_id.in_(list(meeting_ids)),
            RoundTableActionItem.done_at.is_(None),
        )
        .order_by(RoundTableActionItem.due_on, RoundTableActionItem.id)
    )
    return list(rows)


async def action_item_of_owner(
    session: AsyncSession, *, workspace_id: str, item_id: int, owner_id: str
) -> RoundTableActionItem | None:
    """An action item only if it is in this workspace and this person owns it: what a click names is not trusted."""
    return await session.scalar(
        select(RoundTableActionItem).where(
            RoundTableActionItem.workspace_id == workspace_id,
            RoundTableActionItem.id == item_id,
            RoundTableActionItem.owner_id == owner_id,
        )
    )
