"""Many jobs due in the same second (a weekly poll in 2,000 channels) run a few at a time, and every one runs."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from datetime import UTC

import pytest
from apscheduler.jobstores.memory import MemoryJobStore
from apscheduler.schedulers.background import BackgroundScheduler

from models.base import utcnow
from scheduler.loop_executor import EventLoopExecutor
from tests.conftest import eventually
from tests.scheduler import jobs_for_tests


@pytest.fixture(autouse=True)
def fresh_counts() -> Iterator[None]:
    jobs_for_tests.runs.clear()
    jobs_for_tests.in_progress.update(now=0, most=0)
    yield
    jobs_for_tests.runs.clear()


async def test_a_crowd_of_due_jobs_runs_a_few_at_a_time_and_all_of_them_run() -> None:
    scheduler = BackgroundScheduler(
        timezone=UTC,
        jobstores={"default": MemoryJobStore()},
        executors={"default": EventLoopExecutor(asyncio.get_running_loop(), max_concurrent_runs=3)},
    )
    due = utcnow()
    for number in range(30):
        scheduler.add_job(
            "tests.scheduler.jobs_for_tests:take_a_while",
            trigger="date",
            run_date=due,
            kwargs={"label": f"channel {number}"},
            id=f"poll-{number}",
            misfire_grace_time=600,
        )
    await asyncio.to_thread(scheduler.start)
    try:
        await eventually(lambda: len(jobs_for_tests.runs) == 30, within=10)
    finally:
        await asyncio.to_thread(scheduler.shutdown)

    assert sorted(jobs_for_tests.runs) == sorted(f"channel {number}" for number in range(30))
    assert 1 < jobs_for_tests.in_progress["most"] <= 3
