"""How features describe their schedules to the scheduler, without touching APScheduler themselves.

Each feature registers a job source: a function that reads its own tables and returns the jobs that should exist.
The scheduler leader reconciles APScheduler's persistent job store with those specs, so a change made on any
replica (a new round-table, a cancelled poll) reaches the one replica that runs jobs.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession


@dataclass(frozen=True)
class JobSpec:
    # Stable for an unchanged schedule and different when it changes (include a fingerprint of the settings), so
    # reconciling leaves unchanged jobs alone and their missed runs are still detected after downtime.
    id: str
    # "package.module:function": an `async def` taking keyword arguments only.
    func: str
    trigger: Any
    kwargs: dict[str, Any] = field(default_factory=dict)
    # How long after its moment a missed run is still useful; later than that it is skipped with a log line.
    misfire_grace_seconds: int = 3600


JobSource = Callable[[AsyncSession], Awaitable[list[JobSpec]]]
