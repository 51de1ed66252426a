"""Small job functions and a trigger for the scheduler's tests, referenced as "tests.scheduler.jobs_for_tests:…"."""

from __future__ import annotations

import asyncio
from datetime import datetime

from apscheduler.triggers.base import BaseTrigger
from sqlalchemy import text

from scheduler.runtime import job_session

# Labels of the runs that happened, in order (the tests clear it).
runs: list[str] = []


async def record_run(*, label: str) -> None:
    # Like a real job: the app context from the runtime, and a session of its own.
    async with job_session() as session:
        await session.execute(text("SELECT 1"))
    runs.append(label)


async def run_until_cancelled(*, label: str) -> None:
    runs.append(f"{label} started")
    try:
        await asyncio.sleep(3600)
    except asyncio.CancelledError:
        runs.append(f"{label} cancelled")
        raise


def not_async(*, label: str) -> None:
    runs.append(label)


class FireTimesTrigger(BaseTrigger):  # type: ignore[misc]
    """Fires at the given moments only: moments in the past stand for runs that fell into downtime."""

    def __init__(self, *moments: datetime) -> None:
        self.moments = sorted(moments)

    def get_next_fire_time(self, previous_fire_time: datetime | None, now: datetime) -> datetime | None:
        for moment in self.moments:
            if previous_fire_time is None or moment > previous_fire_time:
                return moment
        return None

    def __str__(self) -> str:
        return "at " + ", ".join(moment.isoformat() for moment in self.moments)


# How many `take_a_while` runs are in progress right now, and the most there ever were at once.
in_progress = {"now": 0, "most": 0}


async def take_a_while(*, label: str) -> None:
    in_progress["now"] += 1
    in_progress["most"] = max(in_progress["most"], in_progress["now"])
    try:
        await asyncio.sleep(0.02)
    finally:
        in_progress["now"] -= 1
    runs.append(label)
