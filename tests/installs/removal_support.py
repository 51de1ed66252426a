"""What Slack sends when a workspace removes whoelse, and a look at the scheduler's job store without running jobs."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Sequence
from datetime import datetime, timedelta
from functools import partial
from typing import Any

import httpx
from sqlalchemy import func, select

from habits.elephants.schedule import WeeklyPlan, set_weekly
from habits.recurrence import next_occurrence
from habits.roundtables.form import RoundTablePlan
from habits.roundtables.meetings import post_reminder, recurrence_of, set_up
from models.base import Base
from models.db import session_scope
from models.scheduler_jobs import StoredJob
from models.workspaces import Workspace
from scheduler.elephant_jobs import MISSED_AFTER
from scheduler.jobs import JobSource
from scheduler.loop_executor import off_the_loop
from scheduler.reconcile import JobReconciler
from scheduler.store import build_scheduler
from tests.conftest import RunningApp
from tests.support.signing import slack_event


def removal_event(team_id: str, event: dict[str, Any], *, event_id: str = "Ev-removed") -> dict[str, Any]:
    return {
        "token": "legacy-verification-token",
        "team_id": team_id,
        "api_app_id": "AWHOELSE",
        "type": "event_callback",
        "event_id": event_id,
        "event_time": 1,
        "event": event,
    }


async def app_uninstalled(app: RunningApp, team_id: str) -> httpx.Response:
    body, headers = slack_event(removal_event(team_id, {"type": "app_uninstalled"}))
    return await app.post("/slack/events", body, headers)


async def tokens_revoked(
    app: RunningApp, team_id: str, *, bot: Sequence[str] = (), oauth: Sequence[str] = ()
) -> httpx.Response:
    event = {"type": "tokens_revoked", "tokens": {"oauth": list(oauth), "bot": list(bot)}}
    body, headers = slack_event(removal_event(team_id, event, event_id="Ev-revoked"))
    return await app.post("/slack/events", body, headers)


async def weekly_poll_due_now(app: RunningApp, team_id: str, channel_id: str) -> int:
    # Due long enough ago that the sweep opens it, not only its weekly job.
    now = app.context.clock()
    moment = now - MISSED_AFTER
    plan = WeeklyPlan(weekday=moment.weekday(), at=moment.time(), timezone="UTC", open_for=timedelta(days=2))
    async with session_scope(app.context.sessions) as session:
        schedule = await set_weekly(
            session,
            workspace_id=team_id,
            channel_id=channel_id,
            plan=plan,
            now=moment - timedelta(minutes=5),
            set_by="U1",
        )
        return schedule.id


async def roundtable_reminded(app: RunningApp, team_id: str, channel_id: str) -> None:
    """A weekly round-table set up in the channel, with its next meeting's reminder (and agenda) queued."""
    now = app.context.clock()
    plan = RoundTablePlan(
        cadence="weekly",
        weekday=now.weekday(),
        week_of_month=None,
        at=now.time().replace(microsecond=0),
        timezone="UTC",
        invitees=("U1",),
        group_ids=(),
        reminder_minutes=(60,),
    )
    async with session_scope(app.context.sessions) as session:
        roundtable, _ = await set_up(
            session, workspace_id=team_id, channel_id=channel_id, user_id="U1", plan=plan, now=now
        )
        starts_at = next_occurrence(recurrence_of(roundtable), now)
        reminded = await post_reminder(
            session, roundtable=roundtable, offset_minutes=60, starts_at=starts_at, now=now
        )
        assert reminded.outcome == "posted", reminded


async def removed_at(app: RunningApp, team_id: str) -> datetime | None:
    async with app.context.sessions() as session:
        workspace = await session.get(Workspace, team_id)
        assert workspace is not None
        return workspace.uninstalled_at


@contextlib.asynccontextmanager
async def job_store(app: RunningApp, sources: Sequence[JobSource]) -> AsyncIterator[JobReconciler]:
    """The leader's reconciliation over the real job store, with the scheduler paused so no job runs meanwhile."""
    scheduler = build_scheduler(app.context.settings.database_url)
    await off_the_loop(partial(scheduler.start, paused=True))
    try:
        yield JobReconciler(scheduler, app.context.sessions, sources)
    finally:
        await off_the_loop(scheduler.shutdown, wait=True)


async def stored_job_ids(app: RunningApp) -> set[str]:
    async with app.context.sessions() as session:
        return set(await session.scalars(select(StoredJob.id)))


async def rows_by_table(app: RunningApp, team_id: str) -> dict[str, int]:
    """How many rows the workspace has in each table with a workspace_id column (every such table, so a table added
    later is counted without being named here)."""
    counts: dict[str, int] = {}
    async with app.context.sessions() as session:
        for table in Base.metadata.sorted_tables:
            if "workspace_id" in table.c:
                counts[table.name] = int(
                    await session.scalar(
                        select(func.count()).select_from(table).where(table.c.workspace_id == team_id)
                    )
                    or 0
                )
    return counts
