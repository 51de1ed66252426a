"""Elephant polls on the clock: each channel's weekly opening, a sweep that moves polls on, and the one reminder.

The weekly job opens a poll on time. The sweep makes time-dependent work survive crashes and downtime: it opens a
poll whose weekly job was lost mid-run (the job store had already moved on to next week) once it is a few minutes
late, opens voting and closes polls that are due, however late. Both are idempotent: a poll's key and its outbox keys make a repeat a no-op.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime, timedelta
from functools import partial

from apscheduler.triggers.interval import IntervalTrigger
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.context import AppContext
from bot.gateway import ChatGateway, DeliveryError
from habits.elephants.overlap import announce_new_elephants, local_day
from habits.elephants.polls import advance, with_retries
from habits.elephants.reminders import Colleague, polls_to_remind, send_reminders
from habits.elephants.schedule import missed_opening, open_scheduled_poll, opening_windows, recurrence_of
from models.base import utcnow
from models.db import session_scope
from models.elephants import (
    ElephantSchedule,
    active_schedules,
    polls_due,
    polls_with_unannounced_elephants,
    schedule_timezones,
    schedules_without_recent_poll,
)
from scheduler.jobs import JobSpec, schedule_job_id
from scheduler.runtime import job_context
from scheduler.triggers import RecurrenceTrigger

logger = logging.getLogger(__name__)

# An opening that is hours late is still this week's poll; one days late would squeeze or overlap the next.
OPEN_GRACE = timedelta(hours=3)
# How long a weekly opening is left to its own job before the sweep opens it instead.
MISSED_AFTER = timedelta(minutes=5)
# How often due polls are moved on; after a crash halfway through opening polls, also how soon the rest open.
SWEEP_EVERY = timedelta(seconds=10)
REMINDERS_EVERY = timedelta(minutes=10)
# After downtime the sweep runs once as soon as the scheduler is back, however long it was down: polls must close.
SWEEP_GRACE = timedelta(days=30)


async def job_source(session: AsyncSession) -> list[JobSpec]:
    specs = [
        JobSpec(
            id="elephant:sweep",
            func="scheduler.elephant_jobs:sweep",
            # The first sweep runs as soon as the job is first stored, not one interval later; later calls build
            # other start dates, but the stored job (same id) is kept as it is.
            trigger=IntervalTrigger(
                seconds=int(SWEEP_EVERY.total_seconds()), start_date=utcnow() + timedelta(seconds=1), timezone=UTC
            ),
            misfire_grace_seconds=int(SWEEP_GRACE.total_seconds()),
        ),
        JobSpec(
            id="elephant:reminders",
            func="scheduler.elephant_jobs:remind",
            trigger=IntervalTrigger(seconds=int(REMINDERS_EVERY.total_seconds())),
            # Coalesced into one pass after downtime; the window and working-hours checks decide who is due.
            misfire_grace_seconds=int(SWEEP_GRACE.total_seconds()),
        ),
    ]
    specs.extend(_weekly_opening(schedule) for schedule in await active_schedules(session))
    return specs


def _weekly_opening(schedule: ElephantSchedule) -> JobSpec:
    return JobSpec(
        id=schedule_job_id(
            f"elephant:{schedule.id}:open",
            schedule.weekday,
            schedule.time_of_day,
            schedule.timezone,
            schedule.effective_from,
        ),
        func="scheduler.elephant_jobs:open_weekly_poll",
        trigger=RecurrenceTrigger(recurrence_of(schedule)),
        kwargs={"workspace_id": schedule.workspace_id, "schedule_id": schedule.id},
        misfire_grace_seconds=int(OPEN_GRACE.total_seconds()),
        workspace_id=schedule.workspace_id,
    )


async def open_weekly_poll(*, workspace_id: str, schedule_id: int) -> None:
    context = job_context()
    async with session_scope(context.sessions) as session:
        outcome = await open_scheduled_poll(
            session, workspace_id=workspace_id, schedule_id=schedule_id, now=context.clock(), grace=OPEN_GRACE
        )
    if outcome == "opened":
        context.delivery.wake()
    elif outcome in ("too_late", "channel_busy"):
        logger.warning(
            "weekly elephant poll not opened: %s",
            "its moment has passed" if outcome == "too_late" else "a poll is still open in the channel",
            extra={"workspace": workspace_id, "schedule": schedule_id},
        )


async def sweep() -> None:
    await sweep_polls(job_context())


async def remind() -> None:
    await remind_open_polls(job_context())


async def sweep_polls(context: AppContext) -> None:
    """Opens polls whose weekly opening was missed, opens voting on and closes every poll that is due, and tells
    overlapping polls' channels about newly named elephants (at most once a day each).

    A few queries find what has something to do; only those polls get a transaction of their own, so a sweep over
    thousands of open polls with nothing to do stays well within its ten seconds.
    """
    if await sweep_polls_at(context.sessions, now=context.clock()):
        context.delivery.wake()


async def sweep_polls_at(sessions: async_sessionmaker[AsyncSession], *, now: datetime) -> bool:
    """The sweep at `now`; True when it queued something to post."""
    async with session_scope(sessions) as session:
        missed = await _missed_openings(session, now)
        due = await polls_due(session, now=now)
        unannounced = [
            (poll.workspace_id, poll.poll_id)
            for poll in await polls_with_unannounced_elephants(session, now=now)
            if poll.announced_on != local_day(now, poll.timezone)
        ]
    changed = False
    for workspace_id, schedule_id in missed:
        try:
            async with session_scope(sessions) as session:
                outcome = await open_scheduled_poll(
                    session, workspace_id=workspace_id, schedule_id=schedule_id, now=now, grace=OPEN_GRACE
                )
            changed |= outcome == "opened"
        except Exception:
            logger.exception(
                "could not open a weekly elephant poll", extra={"workspace": workspace_id, "schedule": schedule_id}
            )
    for workspace_id, poll_id in due:
        try:
            moved = await with_retries(
                sessions, partial(advance, workspace_id=workspace_id, poll_id=poll_id, now=now)
            )
            changed |= moved != "unchanged"
        except Exception:
            logger.exception(
                "could not move an elephant poll on", extra={"workspace": workspace_id, "poll": poll_id}
            )
    for workspace_id, poll_id in unannounced:
        try:
            changed |= await with_retries(
                sessions,
                partial(announce_new_elephants, workspace_id=workspace_id, poll_id=poll_id, now=now),
            )
        except Exception:
            logger.exception(
                "could not announce new elephants", extra={"workspace": workspace_id, "poll": poll_id}
            )
    return changed


async def _missed_openings(session: AsyncSession, now: datetime) -> list[tuple[str, int]]:
    """(workspace, schedule id) of weekly openings due for a while with no poll: their weekly job was lost (after a
    crash mid-run, or a schedule stored while the scheduler was down). The first minutes are left to the weekly
    jobs, which a fan-out over thousands of channels keeps busy for a minute or two."""
    windows = opening_windows(
        await schedule_timezones(session), earliest=now - OPEN_GRACE, latest=now - MISSED_AFTER
    )
    candidates = await schedules_without_recent_poll(session, windows=windows, opened_since=now - OPEN_GRACE)
    return [
        (schedule.workspace_id, schedule.id)
        for schedule in candidates
        if missed_opening(schedule, now, grace=OPEN_GRACE, wait=MISSED_AFTER)
    ]


async def remind_open_polls(context: AppContext) -> None:
    """Sends the one reminder to each channel member who has not taken part, when it is their working day.

    Only polls in their reminder window with someone maybe left to remind cost a request to the chat platform.
    """
    now = context.clock()
    async with session_scope(context.sessions) as session:
        polls = [
            (poll.workspace_id, poll.poll_id, poll.channel_id) for poll in await polls_to_remind(session, now=now)
        ]

    queued = 0
    # Someone in several channels with polls is read once a pass: (workspace, person) -> what was read, or None.
    people: dict[tuple[str, str], Colleague | None] = {}
    for workspace_id, poll_id, channel_id in polls:
        try:
            # Members and people are read from the poll's own platform: a Teams tenant's channel is not Slack's.
            gateway = await context.gateway_for(workspace_id)
            members = await gateway.channel_members(channel=channel_id)
            queued += await send_reminders(
                context.sessions,
                workspace_id=workspace_id,
                poll_id=poll_id,
                members=members,
                look_up=partial(_colleague, gateway, people, workspace_id),
                now=now,
            )
        except Exception:
            logger.exception("elephant poll reminders failed", extra={"workspace": workspace_id, "poll": poll_id})
    if queued:
        context.delivery.wake()


async def _colleague(
    gateway: ChatGateway, people: dict[tuple[str, str], Colleague | None], workspace_id: str, user_id: str
) -> Colleague | None:
    if (workspace_id, user_id) in people:
        return people[workspace_id, user_id]
    try:
        person = await gateway.person(user=user_id)
    except DeliveryError:
        logger.warning("could not read a channel member's time zone; trying again at the next pass")
        colleague = None
    else:
        colleague = Colleague(user_id=person.user_id, timezone=person.timezone, is_bot=person.is_bot)
    people[workspace_id, user_id] = colleague
    return colleague
