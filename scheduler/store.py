"""APScheduler on whoelse's own database: the job store and the scheduler built around it.

The job store is synchronous, so the scheduler runs in a thread of its own and only the job runs go back to the event
loop (see `scheduler.loop_executor`): job-store I/O on the loop deadlocked against the app's async transactions.
"""

from __future__ import annotations

import asyncio
from datetime import UTC
from typing import Any

from apscheduler.jobstores.base import BaseJobStore
from apscheduler.jobstores.sqlalchemy import SQLAlchemyJobStore
from apscheduler.schedulers.background import BackgroundScheduler
from sqlalchemy import create_engine, inspect
from sqlalchemy.engine import Engine

from models.db import sync_url
from models.scheduler_jobs import StoredJob
from scheduler.loop_executor import EventLoopExecutor


class JobStoreMissing(RuntimeError):
    """The database has not been migrated to include the scheduler's table."""


class MigratedJobStore(SQLAlchemyJobStore):  # type: ignore[misc]
    """APScheduler's SQL job store over the table the Alembic migrations create.

    SQLAlchemyJobStore creates its table on start if it is missing. Here the migrations own it: a table created
    behind Alembic's back would be unknown to later migrations, so a missing table is an error telling the operator
    to migrate instead.
    """

    def start(self, scheduler: Any, alias: str) -> None:
        BaseJobStore.start(self, scheduler, alias)
        if not inspect(self.engine).has_table(StoredJob.__tablename__):
            self.engine.dispose()
            raise JobStoreMissing(
                f"the database has no {StoredJob.__tablename__} table; run `whoelse db upgrade` before serving"
            )


class ThreadedScheduler(BackgroundScheduler):  # type: ignore[misc]
    """APScheduler in a thread of its own, stopping only between rounds of job processing.

    BaseScheduler.shutdown marks the scheduler stopped before it takes the job stores' lock, and its thread then
    wakes for one more round. A round still running at that moment (waiting for the database's lock, say) would
    have its listener's re-adding of a finished job dropped (`JobReconciler._keep_finished_job`: the job would run
    again after a restart), and that extra round would move due jobs on to their next run without running them.
    Here the scheduler is closed under the job stores' lock, and a round checks under that lock whether it is.
    """

    _closing = False

    def start(self, *args: Any, **kwargs: Any) -> None:
        self._closing = False
        super().start(*args, **kwargs)

    def shutdown(self, *args: Any, **kwargs: Any) -> None:
        with self._jobstores_lock:
            self._closing = True
        # Joins the scheduler's thread: call it off the event loop.
        super().shutdown(*args, **kwargs)

    def _process_jobs(self) -> float | None:
        with self._jobstores_lock:
            if self._closing:
                return None
            wait_seconds: float | None = super()._process_jobs()
            return wait_seconds


def job_store_engine(database_url: str) -> Engine:
    url = sync_url(database_url)
    if url.startswith("sqlite"):
        # The app writes to the same file concurrently; wait for SQLite's lock rather than failing.
        return create_engine(url, connect_args={"timeout": 30})
    return create_engine(url, pool_pre_ping=True)


def build_scheduler(database_url: str, *, default_grace_seconds: int = 3600) -> ThreadedScheduler:
    """A scheduler for the running event loop: it lives in its own thread and runs its jobs on this loop.

    Its methods that touch the job store (start, add_job, remove_job, get_job, shutdown, ...) block on database
    I/O: call them from async code through `scheduler.loop_executor.off_the_loop`.
    """
    return ThreadedScheduler(
        timezone=UTC,
        executors={"default": EventLoopExecutor(asyncio.get_running_loop())},
        jobstores={"default": MigratedJobStore(engine=job_store_engine(database_url))},
        job_defaults={
            # After downtime, a job that missed several runs runs once, for the latest of them.
            "coalesce": True,
            "max_instances": 1,
            "misfire_grace_time": default_grace_seconds,
        },
    )
