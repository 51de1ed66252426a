"""An app context for scheduler tests (the real pieces, without the web app), and a recorder of job events."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field

from apscheduler.events import EVENT_JOB_ERROR, EVENT_JOB_EXECUTED, EVENT_JOB_MISSED, JobEvent
from slack_sdk.web.async_client import AsyncWebClient
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.context import AppContext
from bot.delivery import DeliveryWorker
from bot.settings import Settings
from bot.slack.gateway import SlackGateway
from models.db import create_engine_for, create_session_factory
from models.scheduler_jobs import StoredJob
from scheduler.jobs import JobSource, JobSpec
from scheduler.service import SchedulerService
from tests.conftest import TEAM_ID, eventually

RECORD_RUN = "tests.scheduler.jobs_for_tests:record_run"

JobSpecFactory = Callable[[], JobSpec]


@asynccontextmanager
async def app_context(settings: Settings) -> AsyncIterator[AppContext]:
    engine = create_engine_for(settings.database_url)
    sessions = create_session_factory(engine)
    gateway = SlackGateway(
        AsyncWebClient(token=settings.secret("slack_bot_token"), base_url=settings.slack_api_url)
    )
    try:
        yield AppContext(
            settings=settings,
            engine=engine,
            sessions=sessions,
            gateway=gateway,
            delivery=DeliveryWorker(sessions=sessions, gateway=gateway),
            default_workspace_id=TEAM_ID,
        )
    finally:
        await engine.dispose()


@dataclass
class JobEvents:
    """What happened to job runs, as the scheduler reports it once a run (or a skip) is over."""

    executed: list[str] = field(default_factory=list)
    missed: list[str] = field(default_factory=list)
    failed: list[str] = field(default_factory=list)

    def watch(self, service: SchedulerService) -> None:
        service.add_listener(self._record, EVENT_JOB_EXECUTED | EVENT_JOB_MISSED | EVENT_JOB_ERROR)

    def _record(self, event: JobEvent) -> None:
        kind = {EVENT_JOB_EXECUTED: self.executed, EVENT_JOB_MISSED: self.missed, EVENT_JOB_ERROR: self.failed}
        kind[event.code].append(event.job_id)

    async def settled(self, count: int = 1) -> None:
        await eventually(lambda: len(self.executed) + len(self.missed) + len(self.failed) >= count)


def source_of(*make_specs: JobSpecFactory) -> JobSource:
    """A job source that builds its specs afresh on every call, as a feature reading its tables does."""

    async def source(_session: AsyncSession) -> list[JobSpec]:
        return [make() for make in make_specs]

    return source


async def stored_jobs(sessions: async_sessionmaker[AsyncSession]) -> dict[str, float | None]:
    """The job store as any replica can read it: id → next run time (epoch seconds; None when not due again)."""
    async with sessions() as session:
        rows = await session.execute(select(StoredJob.id, StoredJob.next_run_time))
        return {job_id: next_run for job_id, next_run in rows}
