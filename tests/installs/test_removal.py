"""A Slack workspace removes whoelse (uninstalls the app, or revokes its bot token): its token is deleted at once and
Slack is not called for it again, while other workspaces carry on; its history waits out the grace period for a
reinstall, and after it nothing of the workspace is left, table by table."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import timedelta

import pytest
from sqlalchemy import select

from bot.settings import Settings
from models.db import session_scope
from models.outbox import FAILED, SENT, OutboxMessage
from models.workspace_removal import REMOVED_REASON, purge_workspace
from models.workspaces import Workspace
from scheduler import elephant_jobs
from scheduler.elephant_jobs import open_weekly_poll, sweep_polls
from scheduler.removal_jobs import purge_removed_workspaces
from scheduler.runtime import clear_job_context, set_job_context
from scheduler.sources import all_job_sources
from tests.conftest import RunningApp
from tests.fakes.slack_api import FakeSlack
from tests.handlers.test_elephant_command import Clock
from tests.installs.removal_support import (
    app_uninstalled,
    job_store,
    removed_at,
    roundtable_reminded,
    rows_by_table,
    stored_job_ids,
    tokens_revoked,
    weekly_poll_due_now,
)
from tests.installs.support import (
    TEAM_A,
    TEAM_B,
    install,
    many_workspace_settings,
    running,
    slash_command,
    stored_installation,
)


@pytest.fixture
def many(database_url: str, fake_slack: FakeSlack) -> Settings:
    fake_slack.add_user("UANNA", is_admin=True)
    fake_slack.add_user("UBEN", is_admin=True)
    return many_workspace_settings(database_url, fake_slack)


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
async def app(many: Settings, clock: Clock) -> AsyncIterator[RunningApp]:
    async with running(many, clock=clock) as running_app:
        set_job_context(running_app.context)
        yield running_app
        clear_job_context(running_app.context)


async def outbox_of(app: RunningApp, team_id: str) -> list[OutboxMessage]:
    async with app.context.sessions() as session:
        rows = await session.scalars(
            select(OutboxMessage).where(OutboxMessage.workspace_id == team_id).order_by(OutboxMessage.id)
        )
        return list(rows)


async def test_after_app_uninstalled_the_token_is_gone_and_slack_is_not_called_for_that_workspace_again(
    app: RunningApp, fake_slack: FakeSlack
) -> None:
    token_a = await install(app, fake_slack, TEAM_A)
    token_b = await install(app, fake_slack, TEAM_B)
    await weekly_poll_due_now(app, TEAM_A, "CPOLLSA")
    await weekly_poll_due_now(app, TEAM_B, "CPOLLSB")
    async with job_store(app, [elephant_jobs.job_source]) as jobs:
        await jobs.reconcile()
        assert any(job.startswith(f"{TEAM_A}/elephant:") for job in await stored_job_ids(app))
        # A nudge queued and not sent yet when the workspace removes whoelse.
        await slash_command(app, TEAM_A, "nudge Acme renewal pricing", user="UANNA", channel="CALPHA")
        fake_slack.reset()

        answered = await app_uninstalled(app, TEAM_A)
        await jobs.reconcile()

        assert answered.status_code == 200
        assert await stored_installation(app, TEAM_A) is None
        assert await stored_installation(app, TEAM_B) is not None
        assert await removed_at(app, TEAM_A) is not None
        assert await removed_at(app, TEAM_B) is None
        # Its weekly poll is no longer scheduled; the other workspace's still is.
        stored = await stored_job_ids(app)
        assert not any(job.startswith(f"{TEAM_A}/") for job in stored)
        assert any(job.startswith(f"{TEAM_B}/elephant:") for job in stored)
    [nudge] = await outbox_of(app, TEAM_A)
    assert (nudge.status, nudge.last_error) == (FAILED, REMOVED_REASON)

    # The sweep opens due polls whatever became of their weekly job: only the other workspace's.
    await sweep_polls(app.context)
    await app.context.delivery.drain()

    assert [post["channel"] for post in fake_slack.calls_to("chat.postMessage")] == ["CPOLLSB"]
    assert set(fake_slack.tokens_used("chat.postMessage")) == {token_b}
    assert not any(token_a in fake_slack.tokens_used(call.method) for call in fake_slack.calls)
    assert [row.status for row in await outbox_of(app, TEAM_B)] == [SENT]
    # Not even queued: the sweep no longer sees the workspace's schedules.
    assert [row.id for row in await outbox_of(app, TEAM_A)] == [nudge.id]


async def test_a_message_queued_after_the_uninstall_is_given_up_not_sent(
    app: RunningApp, fake_slack: FakeSlack
) -> None:
    await install(app, fake_slack, TEAM_A)
    schedule_id = await weekly_poll_due_now(app, TEAM_A, "CPOLLSA")
    await app_uninstalled(app, TEAM_A)
    fake_slack.reset()

    # A job already under way when the uninstall arrived still queues its post.
    await open_weekly_poll(workspace_id=TEAM_A, schedule_id=schedule_id)
    await app.context.delivery.drain()

    assert fake_slack.calls_to("chat.postMessage") == []
    assert [(row.status, row.last_error) for row in await outbox_of(app, TEAM_A)] == [(FAILED, REMOVED_REASON)]


async def test_tokens_revoked_with_the_bot_token_removes_the_workspace_too(
    app: RunningApp, fake_slack: FakeSlack
) -> None:
    await install(app, fake_slack, TEAM_A)
    await slash_command(app, TEAM_A, "nudge Acme renewal pricing", user="UANNA", channel="CALPHA")
    fake_slack.reset()

    answered = await tokens_revoked(app, TEAM_A, bot=["UWHOELSE"])
    await app.context.delivery.drain()

    assert answered.status_code == 200
    assert await stored_installation(app, TEAM_A) is None
    assert await removed_at(app, TEAM_A) is not None
    assert fake_slack.calls_to("chat.postMessage") == []
    assert [(row.status, row.last_error) for row in await outbox_of(app, TEAM_A)] == [(FAILED, REMOVED_REASON)]


async def test_tokens_revoked_for_a_user_only_leaves_whoelse_installed(
    app: RunningApp, fake_slack: FakeSlack
) -> None:
    token_a = await install(app, fake_slack, TEAM_A)
    await slash_command(app, TEAM_A, "nudge Acme renewal pricing", user="UANNA", channel="CALPHA")
    fake_slack.reset()

    answered = await tokens_revoked(app, TEAM_A, oauth=["UANNA"])
    await app.context.delivery.drain()

    assert answered.status_code == 200
    assert await stored_installation(app, TEAM_A) is not None
    assert await removed_at(app, TEAM_A) is None
    assert fake_slack.tokens_used("chat.postMessage") == [token_a]


async def test_a_reinstall_within_the_grace_period_finds_its_history(
    app: RunningApp, fake_slack: FakeSlack, clock: Clock
) -> None:
    await install(app, fake_slack, TEAM_A)
    await slash_command(app, TEAM_A, "watch deals", user="UANNA", channel="CDEALS")
    await weekly_poll_due_now(app, TEAM_A, "CPOLLSA")
    await app_uninstalled(app, TEAM_A)
    before = await rows_by_table(app, TEAM_A)
    clock.advance(days=29)

    new_token = await install(app, fake_slack, TEAM_A)
    assert await purge_removed_workspaces(app.context) == []
    async with job_store(app, [elephant_jobs.job_source]) as jobs:
        await jobs.reconcile()
        scheduled = await stored_job_ids(app)
    fake_slack.reset()
    status = await slash_command(app, TEAM_A, "status", user="UANNA")

    assert await removed_at(app, TEAM_A) is None
    after = await rows_by_table(app, TEAM_A)
    assert after["channel_watches"] == before["channel_watches"] == 1
    assert after["elephant_schedules"] == before["elephant_schedules"] == 1
    assert any(job.startswith(f"{TEAM_A}/elephant:") for job in scheduled)
    assert status.json()["text"].startswith("whoelse status")
    assert set(fake_slack.tokens_used("users.info")) == {new_token}


async def test_after_the_grace_period_nothing_of_the_workspace_is_left_in_any_table(
    app: RunningApp, fake_slack: FakeSlack, clock: Clock
) -> None:
    for team, user, channel in ((TEAM_A, "UANNA", "CALPHA"), (TEAM_B, "UBEN", "CBRAVO")):
        await install(app, fake_slack, team)
        await slash_command(app, team, "watch deals", user=user, channel=channel)
        await slash_command(app, team, "nudge Acme renewal pricing", user=user, channel=channel)
        await slash_command(app, team, "snooze 2d", user=user, channel=channel)
        await weekly_poll_due_now(app, team, f"CPOLLS{team}")
        await roundtable_reminded(app, team, f"CMEET{team}")
    await sweep_polls(app.context)
    await app.context.delivery.drain()
    kept = await rows_by_table(app, TEAM_B)
    await app_uninstalled(app, TEAM_A)
    had = await rows_by_table(app, TEAM_A)
    # The test means something only if the workspace had rows in many tables.
    assert sum(1 for count in had.values() if count) >= 9, had

    clock.advance(days=29)
    assert await purge_removed_workspaces(app.context) == []
    assert await rows_by_table(app, TEAM_A) == had
    clock.advance(days=2)
    assert await purge_removed_workspaces(app.context) == [TEAM_A]

    left = await rows_by_table(app, TEAM_A)
    assert {table: count for table, count in left.items() if count} == {}
    assert await rows_by_table(app, TEAM_B) == kept
    async with app.context.sessions() as session:
        assert await session.get(Workspace, TEAM_A) is None
        assert await session.get(Workspace, TEAM_B) is not None


async def test_the_purge_survives_a_crash_midway_and_running_it_again_changes_nothing(
    app: RunningApp, fake_slack: FakeSlack, clock: Clock
) -> None:
    for team, user, channel in ((TEAM_A, "UANNA", "CALPHA"), (TEAM_B, "UBEN", "CBRAVO")):
        await install(app, fake_slack, team)
        await slash_command(app, team, "watch deals", user=user, channel=channel)
        await slash_command(app, team, "nudge Acme renewal pricing", user=user, channel=channel)
    await app_uninstalled(app, TEAM_A)
    had = await rows_by_table(app, TEAM_A)
    kept = await rows_by_table(app, TEAM_B)
    clock.advance(days=31)

    class Crash(Exception):
        pass

    # The process dies after the deletes and before the commit: the workspace is whole again.
    with pytest.raises(Crash):
        async with session_scope(app.context.sessions) as session:
            assert await purge_workspace(session, workspace_id=TEAM_A, cutoff=clock.now - timedelta(days=30))
            raise Crash
    assert await rows_by_table(app, TEAM_A) == had

    assert await purge_removed_workspaces(app.context) == [TEAM_A]
    assert await purge_removed_workspaces(app.context) == []

    assert not any((await rows_by_table(app, TEAM_A)).values())
    assert await rows_by_table(app, TEAM_B) == kept


async def test_a_reinstall_after_the_grace_period_starts_fresh(
    app: RunningApp, fake_slack: FakeSlack, clock: Clock
) -> None:
    await install(app, fake_slack, TEAM_A)
    await slash_command(app, TEAM_A, "watch deals", user="UANNA", channel="CDEALS")
    await app_uninstalled(app, TEAM_A)
    clock.advance(days=31)
    await purge_removed_workspaces(app.context)

    await install(app, fake_slack, TEAM_A)

    assert await removed_at(app, TEAM_A) is None
    counts = await rows_by_table(app, TEAM_A)
    assert counts["channel_watches"] == 0
    assert counts["slack_installations"] == 1


async def test_the_purge_is_one_daily_job_of_the_scheduler_s_leader(app: RunningApp) -> None:
    async with app.context.sessions() as session:
        specs = [spec for source in all_job_sources() for spec in await source(session)]

    [purge] = [spec for spec in specs if spec.func == "scheduler.removal_jobs:purge"]
    assert purge.workspace_id is None
    assert purge.trigger.interval == timedelta(days=1)
