"""Once a day, the data of every workspace that removed whoelse more than UNINSTALLED_DATA_GRACE_DAYS ago is
deleted: every row of every table that has a workspace_id, then the workspace. One transaction per workspace, so a
crash leaves each workspace either whole or gone, and the next run finishes the rest."""

from __future__ import annotations

import logging
from datetime import UTC, timedelta

from apscheduler.triggers.interval import IntervalTrigger
from sqlalchemy.ext.asyncio import AsyncSession

from bot.context import AppContext
from models.base import utcnow
from models.db import session_scope
from models.workspace_removal import purge_workspace, removed_before
from scheduler.jobs import JobSpec
from scheduler.runtime import job_context

logger = logging.getLogger(__name__)

EVERY = timedelta(days=1)


async def job_source(session: AsyncSession) -> list[JobSpec]:
    return [
        JobSpec(
            id="uninstalled-workspaces:purge",
            func="scheduler.removal_jobs:purge",
            # First run soon after the job is first stored; the stored job (same id) keeps its own next run time.
            trigger=IntervalTrigger(
                seconds=int(EVERY.total_seconds()), start_date=utcnow() + timedelta(minutes=1), timezone=UTC
            ),
            # After downtime one run catches up: what is due is worked out from the clock.
            misfire_grace_seconds=int(EVERY.total_seconds()),
        )
    ]


async def purge() -> None:
    await purge_removed_workspaces(job_context())


async def purge_removed_workspaces(context: AppContext) -> list[str]:
    """Deletes the data of every workspace whose grace period is over; returns the workspaces deleted."""
    cutoff = context.clock() - timedelta(days=context.settings.uninstalled_data_grace_days)
    async with session_scope(context.sessions) as session:
        due = await removed_before(session, cutoff=cutoff)
    purged: list[str] = []
    for workspace_id in due:
        try:
            async with session_scope(context.sessions) as session:
                deleted = await purge_workspace(session, workspace_id=workspace_id, cutoff=cutoff)
        except Exception:
            logger.exception(
                "could not delete the data of a workspace that removed whoelse; trying again tomorrow",
                extra={"workspace": workspace_id},
            )
            continue
        if not deleted:
            # Installed again since it was read: its data stays.
            continue
        purged.append(workspace_id)
        logger.info(
            "deleted every row of workspace %s, which removed whoelse more than %d days ago",
            workspace_id,
            context.settings.uninstalled_data_grace_days,
            extra={"workspace": workspace_id},
        )
    if purged:
        context.schedule_changes.set()
    return purged
