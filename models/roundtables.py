"""Cross-functional round-tables: one recurring meeting per channel, its meetings, RSVPs and debrief notes."""

from __future__ import annotations

from datetime import date, datetime, time

from sqlalchemy import JSON, ForeignKey, String, Text, UniqueConstraint, func, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Mapped, mapped_column

from models.base import PLATFORM_ID_LENGTH, Base, utcnow
from models.workspaces import still_served

WEEKLY = "weekly"
BIWEEKLY = "biweekly"
MONTHLY = "monthly"


class RoundTable(Base):
    """A channel's recurring round-table. Cancelling keeps the row, so its id (and every key built on it) stays."""

    __tablename__ = "roundtables"
    __table_args__ = (UniqueConstraint("workspace_id", "channel_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    workspace_id: Mapped[str] = mapped_column(ForeignKey("workspaces.id"))
    channel_id: Mapped[str] = mapped_column(String(PLATFORM_ID_LENGTH))
    cadence: Mapped[str] = mapped_column(String(16))
    # 0 is Monday, as in `datetime.weekday()`.
    weekday: Mapped[int]
    # Monthly only: 1-4 for the first to fourth such weekday of the month, -1 for the last.
    week_of_month: Mapped[int | None]
    time_of_day: Mapped[time]
    timezone: Mapped[str] = mapped_column(String(64))
    # Every-two-weeks meetings fall on the weeks counted from this date.
    anchor: Mapped[date]
    invitees: Mapped[list[str]] = mapped_column(default=list)
    # Slack user group ids.
    invited_groups: Mapped[list[str]] = mapped_column(default=list)
    reminder_minutes: Mapped[list[int]] = mapped_column(JSON, default=list)
    active: Mapped[bool] = mapped_column(default=True)
    set_up_by: Mapped[str] = mapped_column(String(PLATFORM_ID_LENGTH))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)


class RoundTableMeeting(Base):
    """One occurrence of a round-table, created when its first reminder goes out."""

    __tablename__ = "roundtable_meetings"
    __table_args__ = (UniqueConstraint("roundtable_id", "starts_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    workspace_id: Mapped[str] = mapped_column(ForeignKey("workspaces.id"))
    roundtable_id: Mapped[int] = mapped_column(ForeignKey("roundtables.id"), index=True)
    starts_at: Mapped[datetime]
    agenda_outbox_id: Mapped[int | None] = mapped_column(ForeignKey("outbox.id"))
    # Bumped by every RSVP, under a row lock: it orders the reminder updates and makes each one's key unique.
    rsvp_version: Mapped[int] = mapped_column(default=0)
    notes: Mapped[str | None] = mapped_column(Text)
    notes_by: Mapped[str | None] = mapped_column(String(PLATFORM_ID_LENGTH))
    notes_version: Mapped[int] = mapped_column(default=0)
    debrief_outbox_id: Mapped[int | None] = mapped_column(ForeignKey("outbox.id"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class RoundTableReminder(Base):
    """A reminder that was queued for a meeting: RSVPs update every one of them."""

    __tablename__ = "roundtable_reminders"
    __table_args__ = (UniqueConstraint("meeting_id", "offset_minutes"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    workspace_id: Mapped[str] = mapped_column(ForeignKey("workspaces.id"))
    meeting_id: Mapped[int] = mapped_column(ForeignKey("roundtable_meetings.id"), index=True)
    offset_minutes: Mapped[int]
    outbox_id: Mapped[int] = mapped_column(ForeignKey("outbox.id"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class RoundTableRsvp(Base):
    __tablename__ = "roundtable_rsvps"
    __table_args__ = (UniqueConstraint("meeting_id", "user_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    workspace_id: Mapped[str] = mapped_column(ForeignKey("workspaces.id"))
    meeting_id: Mapped[int] = mapped_column(ForeignKey("roundtable_meetings.id"), index=True)
    user_id: Mapped[str] = mapped_column(String(PLATFORM_ID_LENGTH))
    attending: Mapped[bool]
    answered_at: Mapped[datetime] = mapped_column(default=utcnow)


async def roundtable_for_channel(
    session: AsyncSession, *, workspace_id: str, channel_id: str
) -> RoundTable | None:
    """The channel's round-table row, cancelled or not."""
    return await session.scalar(
        select(RoundTable).where(RoundTable.workspace_id == workspace_id, RoundTable.channel_id == channel_id)
    )


async def active_roundtables(session: AsyncSession) -> list[RoundTable]:
    """Every workspace's active round-tables: only the scheduler's job source reads across workspaces."""
    rows = await session.scalars(
        select(RoundTable)
        .where(RoundTable.active.is_(True), still_served(RoundTable.workspace_id))
        .order_by(RoundTable.id)
    )
    return list(rows)


async def workspace_roundtables(session: AsyncSession, *, workspace_id: str) -> list[RoundTable]:
    """One workspace's active round-tables."""
    rows = await session.scalars(
        select(RoundTable)
        .where(RoundTable.workspace_id == workspace_id, RoundTable.active.is_(True))
        .order_by(RoundTable.id)
    )
    return list(rows)


async def get_roundtable(session: AsyncSession, *, workspace_id: str, roundtable_id: int) -> RoundTable | None:
    return await session.scalar(
        select(RoundTable).where(RoundTable.workspace_id == workspace_id, RoundTable.id == roundtable_id)
    )


async def meeting_in_channel(
    session: AsyncSession, *, workspace_id: str, channel_id: str, meeting_id: int
) -> tuple[RoundTableMeeting, RoundTable] | None:
    """A meeting and its round-table, only if that round-table belongs to this channel (cancelled or not): what a
    click or a form names is never trusted to answer another channel's meeting."""
    row = (
        await session.execute(
            select(RoundTableMeeting, RoundTable)
            .join(RoundTable, RoundTable.id == RoundTableMeeting.roundtable_id)
            .where(
                RoundTableMeeting.workspace_id == workspace_id,
                RoundTable.workspace_id == workspace_id,
                RoundTable.channel_id == channel_id,
                RoundTableMeeting.id == meeting_id,
            )
        )
    ).first()
    return None if row is None else (row[0], row[1])


async def meeting_at(
    session: AsyncSession, *, workspace_id: str, roundtable_id: int, starts_at: datetime
) -> RoundTableMeeting:
    """The meeting at this moment, created on first use (two reminders racing for it get the same row)."""

    async def find() -> RoundTableMeeting | None:
        return await session.scalar(
            select(RoundTableMeeting).where(
                RoundTableMeeting.workspace_id == workspace_id,
                RoundTableMeeting.roundtable_id == roundtable_id,
                RoundTableMeeting.starts_at == starts_at,
            )
        )

    existing = await find()
    if existing is not None:
        return existing
    meeting = RoundTableMeeting(
        workspace_id=workspace_id,
        roundtable_id=roundtable_id,
        starts_at=starts_at,
        rsvp_version=0,
        notes_version=0,
    )
    try:
        async with session.begin_nested():
            session.add(meeting)
    except IntegrityError:
        raced = await find()
        if raced is None:
            raise
        return raced
    return meeting


async def bump_rsvp_version(session: AsyncSession, *, meeting: RoundTableMeeting) -> int:
    """Increments the meeting's RSVP counter in the database and returns the new value.

    The UPDATE locks the meeting row on PostgreSQL until commit, so concurrent answers are counted one after the
    other and each reminder update shows every answer committed before it.
    """
    await session.execute(
        update(RoundTableMeeting)
        .where(RoundTableMeeting.id == meeting.id, RoundTableMeeting.workspace_id == meeting.workspace_id)
        .values(rsvp_version=RoundTableMeeting.rsvp_version + 1)
        .execution_options(synchronize_session=False)
    )
    await session.refresh(meeting, ["rsvp_version"])
    return meeting.rsvp_version


async def bump_notes_version(session: AsyncSession, *, meeting: RoundTableMeeting) -> int:
    await session.execute(
        update(RoundTableMeeting)
        .where(RoundTableMeeting.id == meeting.id, RoundTableMeeting.workspace_id == meeting.workspace_id)
        .values(notes_version=RoundTableMeeting.notes_version + 1)
        .execution_options(synchronize_session=False)
    )
    await session.refresh(meeting, ["notes_version", "notes", "debrief_outbox_id"])
    return meeting.notes_version


async def record_rsvp(
    session: AsyncSession, *, meeting: RoundTableMeeting, user_id: str, attending: bool, now: datetime
) -> None:
    """One answer per person per meeting; answering again replaces the earlier answer."""
    existing = await session.scalar(
        select(RoundTableRsvp).where(
            RoundTableRsvp.workspace_id == meeting.workspace_id,
            RoundTableRsvp.meeting_id == meeting.id,
            RoundTableRsvp.user_id == user_id,
        )
    )
    if existing is None:
        session.add(
            RoundTableRsvp(
                workspace_id=meeting.workspace_id,
                meeting_id=meeting.id,
                user_id=user_id,
                attending=attending,
                answered_at=now,
            )
        )
    else:
        existing.attending = attending
        existing.answered_at = now
    await session.flush()


async def rsvps(session: AsyncSession, *, meeting: RoundTableMeeting) -> list[RoundTableRsvp]:
    """Answers in the order people first gave them."""
    rows = await session.scalars(
        select(RoundTableRsvp)
        .where(RoundTableRsvp.workspace_id == meeting.workspace_id, RoundTableRsvp.meeting_id == meeting.id)
        .order_by(RoundTableRsvp.id)
    )
    return list(rows)


async def reminders_of(session: AsyncSession, *, meeting: RoundTableMeeting) -> list[RoundTableReminder]:
    rows = await session.scalars(
        select(RoundTableReminder)
        .where(
            RoundTableReminder.workspace_id == meeting.workspace_id, RoundTableReminder.meeting_id == meeting.id
        )
        .order_by(RoundTableReminder.offset_minutes.desc())
    )
    return list(rows)


async def remember_reminder(
    session: AsyncSession, *, meeting: RoundTableMeeting, offset_minutes: int, outbox_id: int
) -> None:
    """Links a queued reminder to its meeting; a repeated run of the same reminder changes nothing."""
    existing = await session.scalar(
        select(func.count(RoundTableReminder.id)).where(
            RoundTableReminder.workspace_id == meeting.workspace_id,
            RoundTableReminder.meeting_id == meeting.id,
            RoundTableReminder.offset_minutes == offset_minutes,
        )
    )
    if existing:
        return
    try:
        async with session.begin_nested():
            session.add(
                RoundTableReminder(
                    workspace_id=meeting.workspace_id,
                    meeting_id=meeting.id,
                    offset_minutes=offset_minutes,
                    outbox_id=outbox_id,
                )
            )
    except IntegrityError:
        # The same reminder ran twice at once; the other run linked it.
        return
