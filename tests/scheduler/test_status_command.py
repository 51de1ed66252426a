"""`/whoelse status`: admins see the scheduler and delivery problems of their workspace; others are turned away."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from datetime import time, timedelta
from typing import Any

import pytest
from apscheduler.triggers.cron import CronTrigger
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.app import create_app
from bot.settings import Settings
from habits.elephants.schedule import WeeklyPlan, set_weekly
from habits.messages import Message
from models.base import utcnow
from models.db import session_scope
from models.outbox import FAILED, PENDING, enqueue
from models.roundtable_outcomes import RoundTableActionItem
from models.roundtables import RoundTableMeeting
from models.scheduler_jobs import all_stored_job_ids, upcoming_runs
from models.workspaces import Workspace
from scheduler import elephant_jobs, follow_up_jobs, roundtable_jobs
from scheduler.jobs import JobSpec, schedule_job_id
from tests.conftest import TEAM_ID, RunningApp, eventually, serving, unpaced
from tests.fakes.slack_api import FakeSlack
from tests.habits.test_status import weekly_roundtable
from tests.scheduler.service_support import RECORD_RUN, source_of
from tests.support.signing import slack_form

OTHER_TEAM = "T0OTHER"


def weekly_digest(workspace_id: str, name: str) -> JobSpec:
    return JobSpec(
        id=schedule_job_id(name, "mon 09:00 UTC"),
        func=RECORD_RUN,
        trigger=CronTrigger(day_of_week="mon", hour=9, timezone="UTC"),
        kwargs={"label": name},
        workspace_id=workspace_id,
    )


@pytest.fixture
async def app(settings: Settings, fake_slack: FakeSlack) -> AsyncIterator[RunningApp]:
    fake_slack.add_user("UADMIN", is_admin=True)
    fake_slack.add_user("UMEMBER")
    sources = [
        source_of(
            lambda: weekly_digest(TEAM_ID, "weekly-digest"), lambda: weekly_digest(OTHER_TEAM, "their-digest")
        )
    ]
    application = create_app(settings, job_sources=sources, delivery_policy=unpaced())
    async with serving(application) as running:
        yield running


async def seed_outbox(sessions: async_sessionmaker[AsyncSession]) -> None:
    now = utcnow()
    async with session_scope(sessions) as session:
        session.add(Workspace(id=TEAM_ID, timezone="Europe/Berlin"))
        session.add(Workspace(id=OTHER_TEAM, timezone="UTC"))
        await session.flush()
        rows = [
            # (workspace, key, channel, status, attempts, last error, last attempt)
            (TEAM_ID, "nudge:older", "C0SALES", FAILED, 12, "slack is down (503)", now - timedelta(hours=3)),
            (TEAM_ID, "nudge:newer", "C0GONE", FAILED, 1, "channel_not_found", now - timedelta(minutes=5)),
            (TEAM_ID, "nudge:waiting", "C0SALES", PENDING, 0, None, None),
            (TEAM_ID, "nudge:retrying", "C0SALES", PENDING, 2, "rate limited, retry after 30s", now),
            (OTHER_TEAM, "their:failed", "C0THEIRS", FAILED, 12, "their error", now),
        ]
        for workspace_id, key, channel, status, attempts, error, tried_at in rows:
            row = await enqueue(
                session,
                workspace_id=workspace_id,
                idempotency_key=key,
                message=Message(text="Who else needs to know?"),
                channel_id=channel,
                not_before=now + timedelta(hours=1),
            )
            row.status, row.attempts, row.last_error, row.attempt_started_at = status, attempts, error, tried_at


async def whoelse_status(app: RunningApp, user_id: str) -> str:
    body, headers = slack_form(
        {
            "command": "/whoelse",
            "text": "status",
            "team_id": TEAM_ID,
            "channel_id": "C0SALES",
            "user_id": user_id,
            "trigger_id": "1.2.3",
        }
    )
    response = await app.post("/slack/events", body, headers)
    assert response.status_code == 200
    reply: dict[str, Any] = response.json()
    assert reply["response_type"] == "ephemeral"
    sections = [block["text"]["text"] for block in reply.get("blocks", []) if "text" in block]
    contexts = [element["text"] for block in reply.get("blocks", []) for element in block.get("elements", [])]
    return "\n".join([reply["text"], *sections, *contexts])


async def test_admins_see_the_scheduler_next_runs_and_failed_messages_of_their_workspace(
    app: RunningApp, sessions: async_sessionmaker[AsyncSession]
) -> None:
    await seed_outbox(sessions)

    shown = await whoelse_status(app, "UADMIN")

    assert "*Scheduler:* running in this replica." in shown
    # Monday 09:00 UTC is 10:00 or 11:00 in Berlin; the schedule fingerprint stays out of sight.
    assert re.search(r"• weekly-digest, Mon( \d+ \w+)? 1[01]:00 Berlin time", shown)
    assert "weekly-digest@" not in shown
    assert "their-digest" not in shown
    assert "*Delivery:* 1 waiting to send, 1 retrying, 2 failed for good." in shown
    newer = "• <#C0GONE> · `nudge:newer` · 1 attempt · channel_not_found"
    older = "• <#C0SALES> · `nudge:older` · 12 attempts · slack is down (503)"
    assert newer in shown
    assert older in shown
    assert shown.index(newer) < shown.index(older)
    assert "their:failed" not in shown


async def test_people_who_are_not_admins_get_a_polite_refusal(
    app: RunningApp, sessions: async_sessionmaker[AsyncSession]
) -> None:
    await seed_outbox(sessions)

    shown = await whoelse_status(app, "UMEMBER")

    assert "`/whoelse status` is for workspace admins" in shown
    assert "nudge:newer" not in shown
    assert "Scheduler" not in shown


async def test_round_table_reminders_and_poll_openings_are_named_in_words_in_their_own_zones(
    settings: Settings, fake_slack: FakeSlack, sessions: async_sessionmaker[AsyncSession]
) -> None:
    fake_slack.add_user("UADMIN", is_admin=True)
    now = utcnow()
    async with session_scope(sessions) as session:
        session.add(Workspace(id=TEAM_ID, timezone="UTC"))
        await session.flush()
        await weekly_roundtable(
            session,
            workspace_id=TEAM_ID,
            channel_id="C0SALESENG",
            user_id="UADMIN",
            timezone="America/New_York",
            now=now,
        )
        await set_weekly(
            session,
            workspace_id=TEAM_ID,
            channel_id="C0ENG",
            plan=WeeklyPlan(weekday=0, at=time(9, 0), timezone="Europe/Berlin", open_for=timedelta(days=2)),
            now=now,
            set_by="U0ADMIN",
        )
    application = create_app(settings, job_sources=[roundtable_jobs.job_source, elephant_jobs.job_source])
    async with serving(application) as app:

        async def both_scheduled() -> bool:
            async with session_scope(sessions) as session:
                return len(await upcoming_runs(session, workspace_id=TEAM_ID)) == 2

        await eventually(both_scheduled)
        shown = await whoelse_status(app, "UADMIN")

    # Each at the time its own zone keeps (the workspace's is UTC), in the channel it posts to.
    on_the_day = r"( \d+ \w+)?"
    reminder = rf"• Round-table reminder \(15 minutes before\), <#C0SALESENG>, Tue{on_the_day} 14:30 New York time"
    opening = rf"• Elephant poll opens, <#C0ENG>, Mon{on_the_day} 09:00 Berlin time"
    assert re.search(reminder, shown), shown
    assert re.search(opening, shown), shown
    assert "roundtable:" not in shown and "elephant:" not in shown


async def test_the_monthly_digest_and_the_owners_reminders_are_named_in_words(
    settings: Settings, fake_slack: FakeSlack, sessions: async_sessionmaker[AsyncSession]
) -> None:
    fake_slack.add_user("UADMIN", is_admin=True)
    now = utcnow()
    async with session_scope(sessions) as session:
        session.add(Workspace(id=TEAM_ID, timezone="UTC"))
        await session.flush()
        roundtable = await weekly_roundtable(
            session,
            workspace_id=TEAM_ID,
            channel_id="C0SALESENG",
            user_id="UADMIN",
            timezone="Europe/Berlin",
            now=now,
        )
        meeting = RoundTableMeeting(workspace_id=TEAM_ID, roundtable_id=roundtable.id, starts_at=now)
        session.add(meeting)
        await session.flush()
        for number in (1, 2):
            session.add(
                RoundTableActionItem(
                    workspace_id=TEAM_ID,
                    meeting_id=meeting.id,
                    submission_id=f"5f0c6d0e-0000-4000-8000-00000000000{number}",
                    text="Add a context field to the handoff form",
                    owner_id="UADMIN",
                    due_on=now.date() + timedelta(days=10),
                )
            )
    application = create_app(settings, job_sources=[follow_up_jobs.job_source])
    async with serving(application) as app:

        async def sweeps_scheduled() -> bool:
            async with session_scope(sessions) as session:
                return len(await all_stored_job_ids(session)) == 2

        await eventually(sweeps_scheduled)
        shown = await whoelse_status(app, "UADMIN")

    # The first weekday of next month (or of this one, if it is still to come), 09:00 on the channel's clock.
    digest = r"• Monthly digest, <#C0SALESENG>, (Mon|Tue|Wed|Thu|Fri)( \d+ \w+)? 09:00 Berlin time"
    assert re.search(digest, shown), shown
    sweep = (
        r"• Reminders to action item owners \(checked every 5 minutes; 2 action items waiting\), \w+ \d\d:\d\d UTC"
    )
    assert re.search(sweep, shown), shown
    assert "roundtable-follow-up" not in shown


async def test_status_is_listed_in_the_help(app: RunningApp) -> None:
    body, headers = slack_form(
        {"command": "/whoelse", "text": "help", "team_id": TEAM_ID, "channel_id": "C0SALES", "user_id": "UMEMBER"}
    )
    response = await app.post("/slack/events", body, headers)
    assert "`/whoelse status` — scheduler and delivery health (admins)" in response.json()["text"]
