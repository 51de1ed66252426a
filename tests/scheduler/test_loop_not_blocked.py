"""The scheduler's job-store I/O never runs on the event loop, so it cannot freeze the app.

The job store is synchronous. When it ran on the event loop, a job falling due while an async transaction held what
the store had to write (SQLite's single write lock, or a row lock on PostgreSQL) froze the loop waiting for a lock
that only the loop could release: on SQLite for the 30 s busy timeout and then "database is locked", on PostgreSQL
for good.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.settings import Settings
from models.base import utcnow
from scheduler.jobs import JobSpec
from scheduler.service import SchedulerService
from tests.scheduler import jobs_for_tests
from tests.scheduler.jobs_for_tests import FireTimesTrigger
from tests.scheduler.service_support import RECORD_RUN, JobEvents, app_context, source_of, stored_jobs

# A loop that keeps turning wakes a 10 ms sleeper every 10 ms or so; a stalled one shows a gap of seconds.
HEARTBEAT_SECONDS = 0.01
RESPONSIVE_WITHIN_SECONDS = 0.5


@dataclass
class Heartbeat:
    """The longest the event loop went without waking a coroutine that sleeps for 10 ms at a time."""

    longest_gap: float = 0.0


@asynccontextmanager
async def heartbeat() -> AsyncIterator[Heartbeat]:
    beat = Heartbeat()
    loop = asyncio.get_running_loop()

    async def beat_forever() -> None:
        last = loop.time()
        while True:
            await asyncio.sleep(HEARTBEAT_SECONDS)
            now = loop.time()
            beat.longest_gap = max(beat.longest_gap, now - last)
            last = now

    task = asyncio.create_task(beat_forever())
    try:
        yield beat
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)


async def test_a_job_falling_due_while_a_transaction_holds_the_lock_neither_freezes_the_loop_nor_is_lost(
    settings: Settings, sessions: async_sessionmaker[AsyncSession]
) -> None:
    moment = utcnow() + timedelta(seconds=1)

    def close_polls() -> JobSpec:
        return JobSpec(
            id="close-due-polls", func=RECORD_RUN, trigger=FireTimesTrigger(moment), kwargs={"label": "close"}
        )

    async with app_context(settings) as context:
        service = SchedulerService(context, [source_of(close_polls)])
        events = JobEvents()
        events.watch(service)
        await service.start()
        try:
            assert await stored_jobs(sessions) == {"close-due-polls": moment.timestamp()}
            async with heartbeat() as beat:
                # The app's own engine, as a request or a job uses it: the transaction holds SQLite's write lock
                # (every transaction begins IMMEDIATE), on PostgreSQL the lock on the job's row, while it awaits.
                async with context.sessions() as session:
                    await session.execute(
                        text("UPDATE apscheduler_jobs SET next_run_time = next_run_time WHERE id = :id"),
                        {"id": "close-due-polls"},
                    )
                    # The job falls due meanwhile: the scheduler must wait for the lock without stopping the loop.
                    await asyncio.sleep((moment - utcnow()).total_seconds() + 1.0)
                    held_for = beat.longest_gap
                    await session.commit()
                await events.settled()
                ran_after_commit = beat.longest_gap
        finally:
            await service.stop()
        stored = await stored_jobs(sessions)

    assert held_for < RESPONSIVE_WITHIN_SECONDS, f"the event loop stalled for {held_for:.1f}s"
    assert ran_after_commit < RESPONSIVE_WITHIN_SECONDS, f"the event loop stalled for {ran_after_commit:.1f}s"
    assert events.executed == ["close-due-polls"]
    assert events.failed == events.missed == []
    assert jobs_for_tests.runs == ["close"]
    # Kept once it has run, paused: it is a one-off its source still lists.
    assert stored == {"close-due-polls": None}
