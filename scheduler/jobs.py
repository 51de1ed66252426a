"""How features describe their schedules to the scheduler, without touching APScheduler themselves.

Each feature registers a job source: a function that reads its own tables and returns the jobs that should exist.
The scheduler leader reconciles APScheduler's persistent job store with those specs, so a change made on any
replica (a new round-table, a cancelled poll) reaches the one replica that runs jobs.

A job function is an `async def` taking keyword arguments only, named as "package.module:function" so the job store
can pickle the reference. It gets the app through `scheduler.runtime.job_context()` and opens its own session
(`scheduler.runtime.job_session()`).

Set `context.schedule_changes` after changing a schedule: if this replica leads it reconciles at once, otherwise the
leader's periodic pass picks the change up. A one-off job (a trigger that runs out) runs once: it then stays in the
store, paused, until its source stops listing it.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from models.scheduler_jobs import stored_job_id

FINGERPRINT_LENGTH = 12


@dataclass(frozen=True)
class JobSpec:
    # Stable for an unchanged schedule and different when it changes (build it with `schedule_job_id`), so
    # reconciling leaves unchanged jobs alone and their missed runs are still detected after downtime.
    id: str
    # "package.module:function": an `async def` taking keyword arguments only.
    func: str
    # An APScheduler 3 trigger (it is pickled into the job store, so it must be importable at module level).
    trigger: Any
    kwargs: dict[str, Any] = field(default_factory=dict)
    # How long after its moment a missed run is still useful; later than that it is skipped with a log line.
    misfire_grace_seconds: int = 3600
    # The workspace the job works for; `/whoelse status` shows that workspace its upcoming runs. None for jobs
    # that serve every workspace (e.g. "close every poll that is due").
    workspace_id: str | None = None

    @property
    def stored_id(self) -> str:
        """The id in the job store: unique across workspaces, and findable by workspace."""
        return stored_job_id(self.workspace_id, self.id)


JobSource = Callable[[AsyncSession], Awaitable[list[JobSpec]]]


def schedule_fingerprint(*schedule: Any) -> str:
    """A short digest of everything that defines when and how a job runs (times, time zone, offsets, arguments)."""
    canonical = json.dumps(schedule, sort_keys=True, default=str, separators=(",", ":"))
    return hashlib.sha256(canonical.encode()).hexdigest()[:FINGERPRINT_LENGTH]


def schedule_job_id(name: str, *schedule: Any) -> str:
    """`name@fingerprint`: e.g. `schedule_job_id(f"roundtable:{rt.id}:reminder:{offset}", rt.recurrence, rt.tz)`.

    The name says what the job is (it is what `/whoelse status` shows); the fingerprint makes a changed schedule a
    new job, so the old one (and its next run time) is replaced rather than silently kept.
    """
    return f"{name}@{schedule_fingerprint(*schedule)}"
