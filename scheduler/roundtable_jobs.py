"""Round-table reminders as scheduled jobs: one job per reminder offset of every active round-table."""

from __future__ import annotations

import logging
from datetime import datetime, timedelta

from sqlalchemy.ext.asyncio import AsyncSession

from habits.recurrence import next_occurrence
from habits.roundtables.meetings import ReminderResult, post_reminder, recurrence_of
from models.roundtables import RoundTable, active_roundtables
from scheduler.jobs import JobSpec, schedule_job_id
from scheduler.runtime import job_context, job_session
from scheduler.triggers import RecurrenceTrigger

logger = logging.getLogger(__name__)

SEND_REMINDER = "scheduler.roundtable_jobs:send_reminder"
# A reminder that fires a little early (clock skew between replicas) is still for the meeting it precedes.
EARLY_TOLERANCE = timedelta(minutes=2)
# A reminder landing in the last minute before the start helps nobody.
TOO_LATE = timedelta(minutes=1)


def reminder_grace_seconds(offset_minutes: int) -> int:
    """Late runs are still useful until shortly before the meeting starts; after that they are skipped."""
    return max(int((timedelta(minutes=offset_minutes) - TOO_LATE).total_seconds()), 1)


def reminder_jobs(roundtable: RoundTable) -> list[JobSpec]:
    recurrence = recurrence_of(roundtable)
    return [
        JobSpec(
            id=schedule_job_id(f"roundtable:{roundtable.id}:reminder:{minutes}", recurrence, minutes),
            func=SEND_REMINDER,
            trigger=RecurrenceTrigger(recurrence, timedelta(minutes=minutes)),
            kwargs={"roundtable_id": roundtable.id, "offset_minutes": minutes},
            misfire_grace_seconds=reminder_grace_seconds(minutes),
            workspace_id=roundtable.workspace_id,
        )
        for minutes in roundtable.reminder_minutes
    ]


async def job_source(session: AsyncSession) -> list[JobSpec]:
    return [spec for roundtable in await active_roundtables(session) for spec in reminder_jobs(roundtable)]


async def remind(
    session: AsyncSession, *, roundtable_id: int, offset_minutes: int, now: datetime
) -> ReminderResult:
    """Sends the reminder due now: the meeting is the next one, as long as this reminder still comes before it."""
    # The scheduler knows round-tables by id only; the domain scopes everything after this to its workspace.
    roundtable = await session.get(RoundTable, roundtable_id)
    if roundtable is None or not roundtable.active:
        return ReminderResult("no_roundtable")
    recurrence = recurrence_of(roundtable)
    starts_at = next_occurrence(recurrence, now)
    due = RecurrenceTrigger(recurrence, timedelta(minutes=offset_minutes)).fire_time_for(starts_at)
    if now < due - EARLY_TOLERANCE:
        # The meeting this run was for has begun; the next one has a reminder of its own.
        return ReminderResult("meeting_started")
    return await post_reminder(
        session, roundtable=roundtable, offset_minutes=offset_minutes, starts_at=starts_at, now=now
    )


async def send_reminder(*, roundtable_id: int, offset_minutes: int) -> None:
    context = job_context()
    async with job_session() as session:
        result = await remind(
            session, roundtable_id=roundtable_id, offset_minutes=offset_minutes, now=context.clock()
        )
    if result.outcome == "posted":
        context.delivery.wake()
    else:
        logger.info(
            "round-table reminder not sent: %s",
            result.outcome,
            extra={"roundtable_id": roundtable_id, "offset_minutes": offset_minutes},
        )
