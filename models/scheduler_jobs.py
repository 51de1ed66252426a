"""APScheduler's job store table, so that Alembic owns its schema and any replica can read upcoming runs.

The scheduler leader writes this table through APScheduler (pickled job state); everyone else only reads the ids and
next run times. A job that belongs to a workspace is stored under `<workspace id>/<job id>`, which is what lets
`/whoelse status` show one workspace its own jobs without unpickling anything.
"""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import Float, LargeBinary, Unicode, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Mapped, mapped_column

from models.base import Base

WORKSPACE_SEPARATOR = "/"


class StoredJob(Base):
    # The exact shape APScheduler 3's SQLAlchemyJobStore expects (its name, column types and sizes).
    __tablename__ = "apscheduler_jobs"

    id: Mapped[str] = mapped_column(Unicode(191), primary_key=True)
    # Seconds since the epoch, UTC; NULL while a job is paused (whoelse keeps finished one-off jobs that way).
    next_run_time: Mapped[float | None] = mapped_column(Float(25), index=True)
    job_state: Mapped[bytes] = mapped_column(LargeBinary)


def stored_job_id(workspace_id: str | None, job_id: str) -> str:
    return job_id if workspace_id is None else f"{workspace_id}{WORKSPACE_SEPARATOR}{job_id}"


async def all_stored_job_ids(session: AsyncSession) -> set[str]:
    """Every job in the store, across workspaces: only the scheduler leader's reconciliation needs this."""
    return set(await session.scalars(select(StoredJob.id)))


async def upcoming_runs(
    session: AsyncSession, *, workspace_id: str, limit: int = 10
) -> list[tuple[str, datetime]]:
    """This workspace's scheduled jobs that will run again, soonest first, as (job id, next run in UTC)."""
    prefix = workspace_id + WORKSPACE_SEPARATOR
    rows = await session.execute(
        select(StoredJob.id, StoredJob.next_run_time)
        .where(StoredJob.id.startswith(prefix, autoescape=True), StoredJob.next_run_time.is_not(None))
        .order_by(StoredJob.next_run_time, StoredJob.id)
        .limit(limit)
    )
    return [
        (job_id.removeprefix(prefix), datetime.fromtimestamp(timestamp, UTC))
        for job_id, timestamp in rows
        if timestamp is not None
    ]


async def next_run_of(session: AsyncSession, job_id: str) -> datetime | None:
    """When a job that serves every workspace (stored under its own id) runs next, in UTC; None when it is not
    scheduled (the scheduler has not stored it yet, or it is paused)."""
    timestamp = await session.scalar(select(StoredJob.next_run_time).where(StoredJob.id == job_id))
    return datetime.fromtimestamp(timestamp, UTC) if timestamp is not None else None
