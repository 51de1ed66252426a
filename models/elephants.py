"""Elephant-in-the-room polls: weekly schedules, polls and their anonymous submissions.

Anonymity is a property of these tables, not a promise in the code around them:

- No column holds the user id of someone who named an elephant or voted.
- Whether someone took part is kept only while the poll is open, as HMAC tokens under a per-poll secret, in sorted
  JSON arrays on the poll row (rows per token would reveal their insertion order). Closing the poll deletes the
  secret and the arrays.
- Submissions have random UUID keys and no timestamps; votes are a counter on the submission (no vote rows). On
  SQLite the table has no rowid; on PostgreSQL closing rewrites the rows in key order, so neither storage order nor
  row versions tell which submission came first.
"""

from __future__ import annotations

import uuid
from collections.abc import Collection, Sequence
from dataclasses import dataclass
from datetime import date, datetime, time

from sqlalchemy import (
    ColumnElement,
    ForeignKey,
    String,
    Text,
    UniqueConstraint,
    and_,
    delete,
    exists,
    false,
    func,
    or_,
    select,
    update,
)
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Mapped, aliased, mapped_column

from models.base import PLATFORM_ID_LENGTH, Base, utcnow
from models.outbox import OutboxMessage
from models.workspaces import Workspace, still_served

NAMING = "naming"
VOTING = "voting"
CLOSED = "closed"

# How a poll runs: naming and voting at the same time, or naming first and voting after.
OVERLAP = "overlap"
TWO_PHASE = "two_phase"
MODES = (OVERLAP, TWO_PHASE)


class ElephantSchedule(Base):
    """A channel's weekly poll. One per channel; stopping keeps the row so its id (and keys) stay stable."""

    __tablename__ = "elephant_schedules"
    __table_args__ = (UniqueConstraint("workspace_id", "channel_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    workspace_id: Mapped[str] = mapped_column(ForeignKey("workspaces.id"))
    channel_id: Mapped[str] = mapped_column(String(PLATFORM_ID_LENGTH))
    # 0 is Monday, as in `datetime.weekday()`.
    weekday: Mapped[int]
    time_of_day: Mapped[time]
    timezone: Mapped[str] = mapped_column(String(64))
    open_minutes: Mapped[int]
    active: Mapped[bool] = mapped_column(default=True)
    # Occurrences before this moment are never opened, so setting a schedule never opens a poll for a moment that
    # had already passed.
    effective_from: Mapped[datetime]
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    # Who last set the schedule: they may close its polls early (NULL for schedules set before this was kept).
    created_by: Mapped[str | None] = mapped_column(String(PLATFORM_ID_LENGTH))
    mode: Mapped[str] = mapped_column(String(16), default=OVERLAP, server_default=OVERLAP)


class ElephantPoll(Base):
    __tablename__ = "elephant_polls"
    __table_args__ = (UniqueConstraint("workspace_id", "key"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    workspace_id: Mapped[str] = mapped_column(ForeignKey("workspaces.id"))
    channel_id: Mapped[str] = mapped_column(String(PLATFORM_ID_LENGTH), index=True)
    schedule_id: Mapped[int | None] = mapped_column(ForeignKey("elephant_schedules.id"))
    # What makes opening idempotent, and the prefix of every outbox key for this poll:
    # "elephant:<schedule-id>:<occurrence-iso>" for scheduled polls, "elephant:now:<channel>:<iso>" otherwise.
    key: Mapped[str] = mapped_column(String(200))
    phase: Mapped[str] = mapped_column(String(16), default=NAMING)
    opened_at: Mapped[datetime]
    voting_opens_at: Mapped[datetime]
    closes_at: Mapped[datetime] = mapped_column(index=True)
    closed_at: Mapped[datetime | None]
    # Live only while the poll is open; every one is set to NULL when it closes.
    secret: Mapped[str | None] = mapped_column(String(64))
    named_tokens: Mapped[list[str] | None]
    voted_tokens: Mapped[list[str] | None]
    reminded_tokens: Mapped[list[str] | None]
    # Bumped with every change to the token arrays: writers compare and set, so two concurrent answers never
    # overwrite each other's token (SQLite has no row locks).
    version: Mapped[int] = mapped_column(default=0)
    # How many different people named an elephant or voted; set when the poll closes.
    participants: Mapped[int | None]
    # How many people voted; set when the poll closes (NULL for polls closed before it was kept).
    voters: Mapped[int | None]
    poll_outbox_id: Mapped[int | None] = mapped_column(ForeignKey("outbox.id"))
    voting_outbox_id: Mapped[int | None] = mapped_column(ForeignKey("outbox.id"))
    # Who ran `/whoelse elephant now` (NULL for a poll its weekly schedule opened), while the poll is open: they may
    # close it early. Tied to no answer, and set to NULL when the poll closes like everything else naming a person.
    started_by: Mapped[str | None] = mapped_column(String(PLATFORM_ID_LENGTH))
    mode: Mapped[str] = mapped_column(String(16), default=TWO_PHASE, server_default=TWO_PHASE)
    # Overlapping polls only, live while open like the other arrays: HMAC(secret, "workspace:user:submission") for
    # every elephant a person had on a ballot they sent, whether they voted for it or not, so nobody judges the same
    # elephant twice and nothing says which of them they picked.
    seen_tokens: Mapped[list[str] | None]
    # How many elephants the channel was last told about, and on which local day (at most one word a day).
    announced_named: Mapped[int] = mapped_column(default=0, server_default="0")
    announced_on: Mapped[date | None]
    # At a reminder pass every channel member had taken part, been reminded (the reminder sent) or was a bot: the
    # poll's members are not read again. Nothing here says who.
    reminders_done: Mapped[bool] = mapped_column(default=False, server_default=false())


def new_submission_id() -> str:
    return str(uuid.uuid4())


class ElephantSubmission(Base):
    """One named elephant. Deliberately without a timestamp, a sequence or anything about its author."""

    __tablename__ = "elephant_submissions"
    # A rowid would number submissions in the order they arrived.
    __table_args__ = ({"sqlite_with_rowid": False},)

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_submission_id)
    workspace_id: Mapped[str] = mapped_column(ForeignKey("workspaces.id"))
    poll_id: Mapped[int] = mapped_column(ForeignKey("elephant_polls.id"), index=True)
    text: Mapped[str] = mapped_column(Text)
    votes: Mapped[int] = mapped_column(default=0)


async def schedule_for_channel(
    session: AsyncSession, *, workspace_id: str, channel_id: str
) -> ElephantSchedule | None:
    return await session.scalar(
        select(ElephantSchedule).where(
            ElephantSchedule.workspace_id == workspace_id, ElephantSchedule.channel_id == channel_id
        )
    )


async def active_schedules(session: AsyncSession) -> list[ElephantSchedule]:
    """Every workspace's active schedules: the scheduler serves them all (but a workspace that removed whoelse)."""
    rows = await session.scalars(
        select(ElephantSchedule)
        .where(ElephantSchedule.active.is_(True), still_served(ElephantSchedule.workspace_id))
        .order_by(ElephantSchedule.id)
    )
    return list(rows)


async def open_poll_in_channel(
    session: AsyncSession, *, workspace_id: str, channel_id: str
) -> ElephantPoll | None:
    return await session.scalar(
        select(ElephantPoll)
        .where(
            ElephantPoll.workspace_id == workspace_id,
            ElephantPoll.channel_id == channel_id,
            ElephantPoll.phase != CLOSED,
        )
        .order_by(ElephantPoll.opened_at.desc())
        .limit(1)
    )


async def poll_by_key(session: AsyncSession, *, workspace_id: str, key: str) -> ElephantPoll | None:
    return await session.scalar(
        select(ElephantPoll).where(ElephantPoll.workspace_id == workspace_id, ElephantPoll.key == key)
    )


async def get_poll(
    session: AsyncSession, *, workspace_id: str, poll_id: int, for_update: bool = False
) -> ElephantPoll | None:
    """A poll by id, in whichever channel it runs: for the scheduler, which moves every poll on."""
    return await _one_poll(
        session, [ElephantPoll.workspace_id == workspace_id, ElephantPoll.id == poll_id], for_update
    )


async def poll_in_channel(
    session: AsyncSession, *, workspace_id: str, channel_id: str, poll_id: int, for_update: bool = False
) -> ElephantPoll | None:
    """A poll by id only if it runs in this channel: what a click or a form names is never trusted further."""
    return await _one_poll(
        session,
        [
            ElephantPoll.workspace_id == workspace_id,
            ElephantPoll.channel_id == channel_id,
            ElephantPoll.id == poll_id,
        ],
        for_update,
    )


async def _one_poll(
    session: AsyncSession, conditions: list[ColumnElement[bool]], for_update: bool
) -> ElephantPoll | None:
    query = select(ElephantPoll).where(*conditions)
    if for_update:
        # Fresh from the database even if this session saw the row before: callers compare and set against it.
        query = query.with_for_update().execution_options(populate_existing=True)
    return await session.scalar(query)


@dataclass(frozen=True)
class RemindablePoll:
    """An open poll whose reminders are not all out yet, with the fields that say when its reminders may go."""

    workspace_id: str
    poll_id: int
    channel_id: str
    opened_at: datetime
    closes_at: datetime


async def polls_with_reminders_left(session: AsyncSession, *, now: datetime) -> list[RemindablePoll]:
    """Open polls running at `now` (but a removed workspace's) with someone in their channel maybe still to remind.

    Only the columns that decide the reminder window are read, never the token arrays.
    """
    rows = await session.execute(
        select(
            ElephantPoll.workspace_id,
            ElephantPoll.id,
            ElephantPoll.channel_id,
            ElephantPoll.opened_at,
            ElephantPoll.closes_at,
        )
        .where(
            ElephantPoll.phase != CLOSED,
            ElephantPoll.reminders_done.is_(False),
            ElephantPoll.opened_at <= now,
            ElephantPoll.closes_at > now,
            still_served(ElephantPoll.workspace_id),
        )
        .order_by(ElephantPoll.closes_at)
    )
    return [RemindablePoll(*row) for row in rows.all()]


async def mark_reminders_done(session: AsyncSession, *, workspace_id: str, poll_id: int) -> None:
    await session.execute(
        update(ElephantPoll)
        .where(ElephantPoll.workspace_id == workspace_id, ElephantPoll.id == poll_id)
        .values(reminders_done=True)
    )


async def polls_due(session: AsyncSession, *, now: datetime) -> list[tuple[str, int]]:
    """(workspace, poll id) of open polls whose voting should open or which should close by `now`."""
    rows = await session.execute(
        select(ElephantPoll.workspace_id, ElephantPoll.id).where(
            ElephantPoll.phase != CLOSED,
            still_served(ElephantPoll.workspace_id),
            (ElephantPoll.closes_at <= now)
            | and_(ElephantPoll.phase == NAMING, ElephantPoll.voting_opens_at <= now),
        )
    )
    return [(workspace_id, poll_id) for workspace_id, poll_id in rows.all()]


@dataclass(frozen=True)
class OpeningWindow:
    """Weekly openings at `weekday` between `earliest` and `latest` (inclusive), in `timezone`'s wall-clock time."""

    timezone: str
    weekday: int
    earliest: time
    latest: time


async def schedule_timezones(session: AsyncSession) -> list[str]:
    """The time zones of every workspace's active schedules, each once."""
    rows = await session.scalars(
        select(ElephantSchedule.timezone)
        .where(ElephantSchedule.active.is_(True), still_served(ElephantSchedule.workspace_id))
        .distinct()
    )
    return list(rows)


async def schedules_without_recent_poll(
    session: AsyncSession, *, windows: Sequence[OpeningWindow], opened_since: datetime
) -> list[ElephantSchedule]:
    """Active schedules with an opening in one of `windows` whose channel has no poll open and no poll of theirs
    opened since `opened_since`: the weekly openings that may have been missed. Schedules that have had this week's
    poll, or whose opening is not near, are left in the database."""
    if not windows:
        return []
    other = aliased(ElephantPoll)
    rows = await session.scalars(
        select(ElephantSchedule)
        .where(
            ElephantSchedule.active.is_(True),
            still_served(ElephantSchedule.workspace_id),
            or_(
                *(
                    and_(
                        ElephantSchedule.timezone == window.timezone,
                        ElephantSchedule.weekday == window.weekday,
                        ElephantSchedule.time_of_day.between(window.earliest, window.latest),
                    )
                    for window in windows
                )
            ),
            # A schedule's polls run in its channel: the channel's index finds them among every week's polls.
            ~exists().where(
                other.workspace_id == ElephantSchedule.workspace_id,
                other.channel_id == ElephantSchedule.channel_id,
                or_(
                    other.phase != CLOSED,
                    and_(other.schedule_id == ElephantSchedule.id, other.opened_at >= opened_since),
                ),
            ),
        )
        .order_by(ElephantSchedule.id)
    )
    return list(rows)


@dataclass(frozen=True)
class Unannounced:
    """An open overlapping poll with elephants named since the channel was last told, and what decides the day."""

    workspace_id: str
    poll_id: int
    announced_on: date | None
    timezone: str


async def polls_with_unannounced_elephants(session: AsyncSession, *, now: datetime) -> list[Unannounced]:
    """Open overlapping polls with more people having named an elephant than the channel was last told about.

    Each with the time zone its "at most once a day" is counted in: its channel's weekly poll's, else the
    workspace's. Only counts are compared; nothing here tells who named what.
    """
    rows = await session.execute(
        select(
            ElephantPoll.workspace_id,
            ElephantPoll.id,
            ElephantPoll.announced_on,
            func.coalesce(ElephantSchedule.timezone, Workspace.timezone),
        )
        .join(Workspace, Workspace.id == ElephantPoll.workspace_id)
        .outerjoin(
            ElephantSchedule,
            and_(
                ElephantSchedule.workspace_id == ElephantPoll.workspace_id,
                ElephantSchedule.channel_id == ElephantPoll.channel_id,
            ),
        )
        .where(
            ElephantPoll.phase != CLOSED,
            ElephantPoll.mode == OVERLAP,
            ElephantPoll.closes_at > now,
            Workspace.uninstalled_at.is_(None),
            func.json_array_length(ElephantPoll.named_tokens) > ElephantPoll.announced_named,
        )
        .order_by(ElephantPoll.id)
    )
    return [
        Unannounced(workspace_id=workspace_id, poll_id=poll_id, announced_on=announced_on, timezone=timezone)
        for workspace_id, poll_id, announced_on, timezone in rows.all()
    ]


def _with_prefix(key_prefix: str) -> ColumnElement[bool]:
    escaped = key_prefix.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return OutboxMessage.idempotency_key.like(escaped + "%", escape="\\")


async def forget_outbox_rows(
    session: AsyncSession, *, workspace_id: str, key_prefix: str, statuses: Collection[str] | None = None
) -> int:
    """Deletes outbox rows whose key starts with `key_prefix`, optionally only those in `statuses`.

    Used for reminder DMs: each row names someone who had not answered yet, so none is kept longer than needed.
    """
    query = delete(OutboxMessage).where(OutboxMessage.workspace_id == workspace_id, _with_prefix(key_prefix))
    if statuses is not None:
        query = query.where(OutboxMessage.status.in_(list(statuses)))
    result = await session.execute(query)
    return int(result.rowcount)  # type: ignore[attr-defined]


async def has_outbox_rows(session: AsyncSession, *, workspace_id: str, key_prefix: str) -> bool:
    found = await session.scalar(
        select(OutboxMessage.id)
        .where(OutboxMessage.workspace_id == workspace_id, _with_prefix(key_prefix))
        .limit(1)
    )
    return found is not None
