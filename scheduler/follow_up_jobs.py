"""Round-table follow-through on the clock: owners reminded the day before an action item is due, and the monthly
digest in each round-table's channel.

Both are sweeps every few minutes rather than one job per item or channel: each works out from the clock and the
tables what is due, in each person's or channel's own zone, so a restart or downtime loses nothing. Each message
has its key, so two runs (a retry, a new leader) never queue it twice.
"""

from __future__ import annotations

import logging
from datetime import timedelta

from apscheduler.triggers.interval import IntervalTrigger
from sqlalchemy.ext.asyncio import AsyncSession

from bot.context import AppContext
from bot.gateway import DeliveryError
from habits.roundtables.digest import attendance_by_team, digest_counts, digest_due, digest_queued, post_digest
from habits.roundtables.follow_up import DIGEST_SWEEP, REMINDER_SWEEP, SWEEP_EVERY, items_to_remind, remind_owner
from models.db import session_scope
from models.roundtables import RoundTable, active_roundtables
from scheduler.jobs import JobSpec
from scheduler.runtime import job_context

logger = logging.getLogger(__name__)

# After downtime one run catches up at once: what is due is worked out from the clock, not from missed runs.
CATCH_UP_GRACE = timedelta(days=1)


async def job_source(session: AsyncSession) -> list[JobSpec]:
    return [
        JobSpec(
            id=REMINDER_SWEEP,
            func="scheduler.follow_up_jobs:due_reminders",
            trigger=IntervalTrigger(seconds=int(SWEEP_EVERY.total_seconds())),
            misfire_grace_seconds=int(CATCH_UP_GRACE.total_seconds()),
        ),
        JobSpec(
            id=DIGEST_SWEEP,
            func="scheduler.follow_up_jobs:digests",
            trigger=IntervalTrigger(seconds=int(SWEEP_EVERY.total_seconds())),
            misfire_grace_seconds=int(CATCH_UP_GRACE.total_seconds()),
        ),
    ]


async def due_reminders() -> None:
    await remind_owners(job_context())


async def digests() -> None:
    await post_digests(job_context())


async def remind_owners(context: AppContext) -> int:
    """Queues the one reminder of every action item whose moment has come on its owner's clock."""
    now = context.clock()
    async with session_scope(context.sessions) as session:
        due = await items_to_remind(session, now=now)
    zones: dict[tuple[str, str], str] = {}
    queued = 0
    for item in due:
        owner = (item.workspace_id, item.owner_id)
        if owner not in zones:
            zones[owner] = await _zone_of(context, *owner) or item.fallback_timezone
        try:
            async with session_scope(context.sessions) as session:
                queued += await remind_owner(session, due=item, timezone=zones[owner], now=now)
        except Exception:
            logger.exception(
                "could not queue an action item's reminder",
                extra={"workspace": item.workspace_id, "action_item": item.item_id},
            )
    if queued:
        context.delivery.wake()
    return queued


async def _zone_of(context: AppContext, workspace_id: str, user_id: str) -> str | None:
    try:
        gateway = await context.gateway_for(workspace_id)
        return (await gateway.person(user=user_id)).timezone or None
    except DeliveryError:
        logger.warning("could not read an action item owner's time zone; using the round-table's")
        return None


async def post_digests(context: AppContext) -> int:
    """Posts last month's digest in every round-table's channel on the first weekday of the month, once."""
    now = context.clock()
    async with session_scope(context.sessions) as session:
        due = [
            (roundtable.workspace_id, roundtable.id)
            for roundtable in await active_roundtables(session)
            if digest_due(roundtable, now) is not None
        ]
    posted = 0
    for workspace_id, roundtable_id in due:
        try:
            posted += await _post_digest(context, workspace_id=workspace_id, roundtable_id=roundtable_id)
        except Exception:
            logger.exception(
                "could not post a round-table's monthly digest",
                extra={"workspace": workspace_id, "roundtable": roundtable_id},
            )
    if posted:
        context.delivery.wake()
    return posted


async def _post_digest(context: AppContext, *, workspace_id: str, roundtable_id: int) -> bool:
    now = context.clock()
    async with session_scope(context.sessions) as session:
        roundtable = await session.get(RoundTable, roundtable_id)
        month = digest_due(roundtable, now) if roundtable is not None else None
        if roundtable is None or month is None or await digest_queued(session, roundtable=roundtable, month=month):
            return False
        counts = await digest_counts(session, roundtable=roundtable, month=month)
    # Teams are read from people's job titles, outside any transaction: the platform may be slow.
    gateway = await context.gateway_for(workspace_id)
    titles: dict[str, str] = {}
    for person in dict.fromkeys(counts.attendees):
        try:
            titles[person] = (await gateway.person(user=person)).title
        except DeliveryError:
            logger.warning("could not read an attendee's job title; counting them under other")
    async with session_scope(context.sessions) as session:
        roundtable = await session.get(RoundTable, roundtable_id)
        if roundtable is None or roundtable.workspace_id != workspace_id:
            return False
        await post_digest(
            session,
            roundtable=roundtable,
            counts=counts,
            attendance=attendance_by_team(counts.attendees, titles),
            now=now,
        )
    return True
