"""APScheduler on whoelse's own database: the job store and the scheduler built around it."""

from __future__ import annotations

import asyncio
from datetime import UTC
from typing import Any

from apscheduler.jobstores.base import BaseJobStore
from apscheduler.jobstores.sqlalchemy import SQLAlchemyJobStore
from apscheduler.schedulers.asyncio import AsyncIOScheduler
from sqlalchemy import create_engine, inspect
from sqlalchemy.engine import Engine

from models.db import sync_url
from models.scheduler_jobs import StoredJob


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


def job_store_engine(database_url: str) -> Engine:
    url = sync_url(database_url)
    if url.startswith("sqlite"):
        # The app writes to the same file concurrently; wait for SQLite's lock rather than failing.
        return create_engine(url, connect_args={"timeout": 30})
    return create_engine(url, pool_pre_ping=True)


def build_scheduler(database_url: str, *, default_grace_seconds: int = 3600) -> AsyncIOScheduler:
    return AsyncIOScheduler(
        timezone=UTC,
        event_loop=asyncio.get_running_loop(),
        jobstores={"default": MigratedJobStore(engine=job_store_engine(database_url))},
        job_defaults={
            # After downtime, a job that missed several runs runs once, for the latest of them.
            "coalesce": True,
            "max_instances": 1,
            "misfire_grace_time": default_grace_seconds,
        },
    )
