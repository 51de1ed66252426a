"""Following up on action items: one reminder to the owner the day before it is due, at a sensible hour in their
own time zone, and marking it done from that message."""

from __future__ import annotations

import hashlib
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Literal
from zoneinfo import ZoneInfo

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from habits.earth_clocks import FURTHEST_AHEAD, FURTHEST_BEHIND
from habits.messages import Actions, Button, Message, Note, Paragraph
from habits.roundtables.messages import as_written, due_in_words
from models.outbox import FAILED, OutboxMessage, enqueue
from models.roundtable_outcomes import RoundTableActionItem, action_item_of_owner
from models.roundtables import RoundTable, RoundTableMeeting
from models.workspaces import still_served

DONE_BUTTON = "whoelse_roundtable_action_done"
# The scheduler's two follow-up sweeps (scheduler/follow_up_jobs.py), each serving every workspace.
REMINDER_SWEEP = "roundtable-follow-up:due-reminders"
DIGEST_SWEEP = "roundtable-follow-up:digests"
SWEEP_EVERY = timedelta(minutes=5)
# The morning before the due date, on the owner's clock: early enough to act on, late enough to be at work.
REMIND_AT = time(9, 0)
REMIND_DAYS_BEFORE = 1

DoneOutcome = Literal["done", "already_done", "not_found"]
# The owner's IANA time zone, or None when the platform could not say just now.
ZoneOf = Callable[[str, str], Awaitable[str | None]]


def reminder_moment(due_on: date, timezone: str) -> datetime:
    """09:00 on the owner's wall clock the day before the due date, whatever daylight saving did in between."""
    zone = ZoneInfo(timezone)
    return datetime.combine(due_on - timedelta(days=REMIND_DAYS_BEFORE), REMIND_AT, tzinfo=zone)


def end_of(day: date, timezone: str) -> datetime:
    return datetime.combine(day + timedelta(days=1), time(0), tzinfo=ZoneInfo(timezone))


def remindable_due_dates(now: datetime) -> tuple[date, date]:
    """The first and last due dates whose reminder may be due at `now` in some time zone.

    A reminder is due from 09:00 the day before on the owner's clock (earliest in UTC on the clock furthest ahead)
    until their due day ends (latest on the clock furthest behind); a reminder on the due day itself still helps.
    """
    wall_clock = now.astimezone(UTC).replace(tzinfo=None)
    since_reminder_time = timedelta(hours=REMIND_AT.hour, minutes=REMIND_AT.minute)
    last = (wall_clock + FURTHEST_AHEAD - since_reminder_time).date() + timedelta(days=REMIND_DAYS_BEFORE)
    first = (wall_clock - FURTHEST_BEHIND).date()
    return first, last


def reminder_key(item: RoundTableActionItem) -> str:
    """A new due date or owner is a new reminder; the same one is never sent twice, whichever replica or retry
    queues it. The owner is hashed: a Teams user id alone could fill the key's column."""
    owner = hashlib.sha256(item.owner_id.encode()).hexdigest()[:12]
    return f"roundtable-action:{item.id}:due:{item.due_on.isoformat()}:{owner}"


def due_reminder(item: RoundTableActionItem) -> Message:
    when = due_in_words(item.due_on)
    return Message(
        text=f"Your round-table action item is due {when}: {as_written(item.text)}",
        parts=[
            Paragraph(text=f":alarm_clock: *Your round-table action item is due {when}*"),
            Paragraph(text=as_written(item.text)),
            Actions(
                block_id=f"roundtable-action:{item.id}",
                controls=[Button(action_id=DONE_BUTTON, label="Mark done", value=str(item.id), style="primary")],
            ),
            Note(text="The next round-table's agenda lists it until it is done."),
        ],
    )


def done_message(item: RoundTableActionItem) -> Message:
    return Message(
        text=f"Done: {as_written(item.text)}",
        parts=[
            Paragraph(text=f":white_check_mark: *Done:* {as_written(item.text)}"),
            Note(text=f"It was due {due_in_words(item.due_on)}."),
        ],
    )


@dataclass(frozen=True)
class DueItem:
    workspace_id: str
    item_id: int
    owner_id: str
    due_on: date
    # The round-table's zone: the owner's day when theirs cannot be read.
    fallback_timezone: str


async def items_to_remind(session: AsyncSession, *, now: datetime) -> list[DueItem]:
    """Open action items of every workspace not reminded yet whose reminder may be due at `now` on some clock on
    Earth: the scheduler's sweep, which reads the owners' time zones of these only."""
    first, last = remindable_due_dates(now)
    rows = await session.execute(
        select(RoundTableActionItem, RoundTable.timezone)
        .join(RoundTableMeeting, RoundTableMeeting.id == RoundTableActionItem.meeting_id)
        .join(RoundTable, RoundTable.id == RoundTableMeeting.roundtable_id)
        .where(
            RoundTableActionItem.done_at.is_(None),
            RoundTableActionItem.reminder_outbox_id.is_(None),
            RoundTableActionItem.due_on.between(first, last),
            RoundTableMeeting.workspace_id == RoundTableActionItem.workspace_id,
            RoundTable.workspace_id == RoundTableActionItem.workspace_id,
            still_served(RoundTableActionItem.workspace_id),
        )
        .order_by(RoundTableActionItem.id)
    )
    return [
        DueItem(item.workspace_id, item.id, item.owner_id, item.due_on, timezone) for item, timezone in rows.all()
    ]


async def reminders_waiting(session: AsyncSession, *, workspace_id: str) -> int:
    """The workspace's open action items whose reminder has not gone out yet."""
    count = await session.scalar(
        select(func.count(RoundTableActionItem.id)).where(
            RoundTableActionItem.workspace_id == workspace_id,
            RoundTableActionItem.done_at.is_(None),
            RoundTableActionItem.reminder_outbox_id.is_(None),
        )
    )
    return count or 0


async def remind_owner(session: AsyncSession, *, due: DueItem, timezone: str, now: datetime) -> bool:
    """Queues the item's one reminder as a direct message if its moment has come and the due day has not ended on
    the owner's clock. Returns whether it was queued."""
    if not reminder_moment(due.due_on, timezone) <= now < end_of(due.due_on, timezone):
        return False
    item = await session.scalar(
        select(RoundTableActionItem)
        .where(RoundTableActionItem.workspace_id == due.workspace_id, RoundTableActionItem.id == due.item_id)
        .with_for_update()
    )
    if (
        item is None
        or item.done_at is not None
        or item.reminder_outbox_id is not None
        or item.due_on != due.due_on
    ):
        return False
    row = await enqueue(
        session,
        workspace_id=item.workspace_id,
        idempotency_key=reminder_key(item),
        dm_user_id=item.owner_id,
        message=due_reminder(item),
        not_before=now,
    )
    item.reminder_outbox_id = row.id
    await session.flush()
    return True


async def mark_done(
    session: AsyncSession, *, workspace_id: str, item_id: int, user_id: str, now: datetime
) -> DoneOutcome:
    """Marks the owner's item done and turns its reminder into a note that it is. Only the owner may."""
    item = await action_item_of_owner(session, workspace_id=workspace_id, item_id=item_id, owner_id=user_id)
    if item is None:
        return "not_found"
    if item.done_at is not None:
        return "already_done"
    item.done_at = now
    if item.reminder_outbox_id is not None:
        status = await session.scalar(
            select(OutboxMessage.status).where(
                OutboxMessage.workspace_id == workspace_id, OutboxMessage.id == item.reminder_outbox_id
            )
        )
        if status not in (None, FAILED):
            await enqueue(
                session,
                workspace_id=workspace_id,
                idempotency_key=f"roundtable-action:{item.id}:done",
                dm_user_id=item.owner_id,
                message=done_message(item),
                update_of_id=item.reminder_outbox_id,
                not_before=now,
            )
    await session.flush()
    return "done"
