"""The scheduler keeps its promises across restarts: jobs persist, missed runs happen once or are skipped honestly."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import timedelta
from pathlib import Path

import pytest
from apscheduler.triggers.cron import CronTrigger
from apscheduler.triggers.interval import IntervalTrigger
from sqlalchemy import inspect
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.settings import Settings
from models.base import utcnow
from models.db import create_engine_for
from scheduler.jobs import JobSpec, schedule_job_id
from scheduler.runtime import SchedulerNotRunning, job_context
from scheduler.service import SchedulerService
from scheduler.store import JobStoreMissing
from tests.conftest import TEAM_ID, eventually
from tests.scheduler import jobs_for_tests
from tests.scheduler.jobs_for_tests import FireTimesTrigger
from tests.scheduler.service_support import RECORD_RUN, JobEvents, app_context, source_of, stored_jobs
from tests.support.signing import BOT_TOKEN, SIGNING_SECRET


@asynccontextmanager
async def running(service: SchedulerService) -> AsyncIterator[SchedulerService]:
    await service.start()
    try:
        yield service
    finally:
        await service.stop()


def hourly_digest() -> JobSpec:
    # A fresh trigger each time, as a feature builds it: re-adding the job would give it a later next run time.
    return JobSpec(
        id=schedule_job_id("hourly-digest", "every hour"),
        func=RECORD_RUN,
        trigger=IntervalTrigger(hours=1),
        kwargs={"label": "digest"},
        workspace_id=TEAM_ID,
    )


async def test_jobs_survive_a_restart_with_their_next_run_time(
    settings: Settings, sessions: async_sessionmaker[AsyncSession]
) -> None:
    async with app_context(settings) as context, running(SchedulerService(context, [source_of(hourly_digest)])):
        before = await stored_jobs(sessions)
    digest_id = hourly_digest().stored_id
    assert list(before) == [digest_id]
    assert before[digest_id] is not None

    async with app_context(settings) as context:
        async with running(SchedulerService(context, [source_of(hourly_digest)])) as restarted:
            assert restarted.is_leader
            result = await restarted.reconcile()
            assert restarted.scheduler is not None
            # Off the event loop, like every call that reads the job store.
            job = await asyncio.to_thread(restarted.scheduler.get_job, digest_id)
        assert result.added == ()
        assert job.next_run_time.timestamp() == before[digest_id]
        assert await stored_jobs(sessions) == before
    assert jobs_for_tests.runs == []


async def test_runs_missed_while_down_happen_once_after_the_restart(
    settings: Settings, sessions: async_sessionmaker[AsyncSession]
) -> None:
    soon = utcnow() + timedelta(seconds=1)
    moments = [soon + timedelta(milliseconds=100 * step) for step in range(3)]

    def close_polls() -> JobSpec:
        return JobSpec(
            id="close-due-polls",
            func=RECORD_RUN,
            trigger=FireTimesTrigger(*moments),
            kwargs={"label": "close"},
            misfire_grace_seconds=3600,
        )

    async with app_context(settings) as context:
        async with running(SchedulerService(context, [source_of(close_polls)])):
            pass
        assert jobs_for_tests.runs == [], "the scheduler stopped before the first moment"
        # Down while all three moments pass.
        await asyncio.sleep((moments[-1] - utcnow()).total_seconds() + 0.05)

        restarted = SchedulerService(context, [source_of(close_polls)])
        events = JobEvents()
        events.watch(restarted)
        async with running(restarted):
            await events.settled()
            assert events.executed == ["close-due-polls"]
            assert jobs_for_tests.runs == ["close"]
            # Its source still lists it, yet it is done: kept in the store, never due again.
            result = await restarted.reconcile()
            assert result.added == ()
            assert await stored_jobs(sessions) == {"close-due-polls": None}
        assert jobs_for_tests.runs == ["close"]


async def test_a_run_later_than_its_grace_is_skipped_with_a_log_line(
    settings: Settings, sessions: async_sessionmaker[AsyncSession], caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING, logger="scheduler.service")
    two_hours_ago = utcnow() - timedelta(hours=2)

    def weekly_open() -> JobSpec:
        return JobSpec(
            id="weekly-open",
            func=RECORD_RUN,
            trigger=FireTimesTrigger(two_hours_ago),
            kwargs={"label": "open"},
            misfire_grace_seconds=600,
        )

    async with app_context(settings) as context:
        service = SchedulerService(context, [source_of(weekly_open)])
        events = JobEvents()
        events.watch(service)
        async with running(service):
            await events.settled()
            await service.reconcile()
            stored = await stored_jobs(sessions)

    assert events.missed == ["weekly-open"]
    assert jobs_for_tests.runs == []
    skipped = [record.getMessage() for record in caplog.records if "skipped" in record.getMessage()]
    assert len(skipped) == 1
    assert "weekly-open skipped: its moment has passed (2h 0m" in skipped[0]
    assert "more than 600s" in skipped[0]
    # Not added back by the reconcile after it, so not skipped (and logged) again and again.
    assert stored == {"weekly-open": None}


async def test_reconciling_drops_jobs_no_source_wants_and_replaces_changed_schedules(
    settings: Settings, sessions: async_sessionmaker[AsyncSession]
) -> None:
    schedules = {"standup": "0 9 * * mon-fri", "retro": "0 16 * * fri"}

    def wanted() -> list[JobSpec]:
        return [
            JobSpec(
                id=schedule_job_id(name, crontab),
                func=RECORD_RUN,
                trigger=CronTrigger.from_crontab(crontab, timezone="UTC"),
                kwargs={"label": name},
                workspace_id=TEAM_ID,
            )
            for name, crontab in schedules.items()
        ]

    async def source(_session: AsyncSession) -> list[JobSpec]:
        return wanted()

    # A long period: only the change signal can make the scheduler notice in time.
    async with (
        app_context(settings) as context,
        running(SchedulerService(context, [source], reconcile_seconds=3600)),
    ):
        first = set(await stored_jobs(sessions))
        assert first == {spec.stored_id for spec in wanted()}

        del schedules["retro"]
        schedules["standup"] = "30 9 * * mon-fri"
        context.schedule_changes.set()

        expected = {spec.stored_id for spec in wanted()}

        async def reconciled() -> bool:
            return set(await stored_jobs(sessions)) == expected

        await eventually(reconciled)
    assert len(expected) == 1
    assert not expected & first


async def test_a_failing_source_keeps_its_jobs_instead_of_losing_them(
    settings: Settings, sessions: async_sessionmaker[AsyncSession], caplog: pytest.LogCaptureFixture
) -> None:
    readable = True

    async def round_tables(_session: AsyncSession) -> list[JobSpec]:
        if not readable:
            raise RuntimeError("round-tables could not be read")
        return [hourly_digest()]

    async with app_context(settings) as context, running(SchedulerService(context, [round_tables])) as service:
        before = await stored_jobs(sessions)
        readable = False
        result = await service.reconcile()
        after = await stored_jobs(sessions)
    assert result.complete is False
    assert result.removed == ()
    assert after == before != {}
    assert "its scheduled jobs are kept as they are" in caplog.text


async def test_a_job_function_that_is_not_async_is_refused_and_the_others_still_scheduled(
    settings: Settings, sessions: async_sessionmaker[AsyncSession], caplog: pytest.LogCaptureFixture
) -> None:
    def blocking() -> JobSpec:
        return JobSpec(
            id="blocking", func="tests.scheduler.jobs_for_tests:not_async", trigger=IntervalTrigger(hours=1)
        )

    async with (
        app_context(settings) as context,
        running(SchedulerService(context, [source_of(blocking, hourly_digest)])),
    ):
        stored = await stored_jobs(sessions)
    assert set(stored) == {hourly_digest().stored_id}
    assert "could not schedule job blocking" in caplog.text
    assert "must be an `async def` function" in caplog.text


async def test_stopping_cancels_a_job_run_in_progress_and_waits_for_it_to_unwind(
    settings: Settings, caplog: pytest.LogCaptureFixture
) -> None:
    def long_job() -> JobSpec:
        return JobSpec(
            id="long-job",
            func="tests.scheduler.jobs_for_tests:run_until_cancelled",
            trigger=FireTimesTrigger(utcnow()),
            kwargs={"label": "long"},
        )

    async with app_context(settings) as context:
        async with running(SchedulerService(context, [source_of(long_job)])):
            await eventually(lambda: jobs_for_tests.runs == ["long started"])
        # Stopped means stopped: a replica that lost the lock must not go on with a job another may start.
        assert jobs_for_tests.runs == ["long started", "long cancelled"]
    assert "run of job long-job cancelled: the scheduler stopped" in caplog.text


async def test_scheduler_off_runs_no_scheduler_in_this_replica(
    settings: Settings, sessions: async_sessionmaker[AsyncSession]
) -> None:
    off = settings.model_copy(update={"scheduler": "off"})
    async with (
        app_context(off) as context,
        running(SchedulerService(context, [source_of(hourly_digest)])) as service,
    ):
        assert not service.is_leader
        assert context.scheduler_role == "off"
        assert await stored_jobs(sessions) == {}


async def test_job_functions_get_the_app_context_only_while_the_service_runs(settings: Settings) -> None:
    async with app_context(settings) as context:
        async with running(SchedulerService(context, [])):
            assert job_context() is context
        with pytest.raises(SchedulerNotRunning, match="only available while the scheduler service runs"):
            job_context()


async def test_the_job_table_comes_from_the_migrations_not_from_apscheduler(tmp_path: Path) -> None:
    unmigrated = Settings(
        _env_file=None,
        slack_bot_token=BOT_TOKEN,
        slack_signing_secret=SIGNING_SECRET,
        database_url=f"sqlite+aiosqlite:///{tmp_path / 'unmigrated.db'}",
    )
    async with app_context(unmigrated) as context:
        service = SchedulerService(context, [])
        with pytest.raises(JobStoreMissing, match="run `whoelse db upgrade`"):
            await service.start()
    engine = create_engine_for(unmigrated.database_url)
    async with engine.connect() as connection:
        tables = await connection.run_sync(lambda sync: inspect(sync).get_table_names())
    await engine.dispose()
    assert "apscheduler_jobs" not in tables
