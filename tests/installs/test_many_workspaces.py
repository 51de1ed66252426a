"""One whoelse installed in several Slack workspaces: each workspace's requests, posts and scheduled jobs use that
workspace's own token, a workspace that has not installed it is told where to, and rotating tokens are rotated."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from datetime import timedelta

import pytest
from sqlalchemy import func, select

from bot.settings import Settings
from habits.elephants.schedule import WeeklyPlan, set_weekly
from models.db import session_scope
from models.outbox import OutboxMessage
from models.workspaces import Workspace
from scheduler.elephant_jobs import open_weekly_poll
from scheduler.runtime import clear_job_context, set_job_context
from tests.conftest import RunningApp, eventually
from tests.fakes.slack_api import FakeSlack
from tests.handlers.test_elephant_command import Clock
from tests.installs.support import (
    INSTALL_URL,
    STRANGERS,
    TEAM_A,
    TEAM_B,
    install,
    many_workspace_settings,
    running,
    slash_command,
    stored_installation,
)
from tests.support.signing import slack_event, webhook_headers


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


async def test_each_workspace_s_slash_command_is_answered_with_its_own_token(
    app: RunningApp, fake_slack: FakeSlack
) -> None:
    token_a = await install(app, fake_slack, TEAM_A)
    token_b = await install(app, fake_slack, TEAM_B)
    fake_slack.reset()

    from_a = await slash_command(app, TEAM_A, "status", user="UANNA")
    from_b = await slash_command(app, TEAM_B, "status", user="UBEN")

    assert from_a.status_code == from_b.status_code == 200
    assert from_a.json()["text"].startswith("whoelse status") and from_b.json()["text"].startswith(
        "whoelse status"
    )
    # Who asked is looked up in their own workspace, with that workspace's token.
    assert fake_slack.tokens_used("users.info") == [token_a, token_b]
    assert set(fake_slack.tokens_used("auth.test")) == {token_a, token_b}


async def test_a_nudge_and_a_scheduled_poll_in_workspace_b_are_posted_with_b_s_token(
    app: RunningApp, fake_slack: FakeSlack
) -> None:
    token_a = await install(app, fake_slack, TEAM_A)
    token_b = await install(app, fake_slack, TEAM_B)
    fake_slack.reset()

    asked = await slash_command(app, TEAM_B, "nudge Acme renewal pricing", user="UBEN", channel="CBRAVO")
    assert asked.status_code == 200
    await app.context.delivery.drain()
    now = app.context.clock()
    plan = WeeklyPlan(weekday=now.weekday(), at=now.time(), timezone="UTC", open_for=timedelta(days=2))
    async with session_scope(app.context.sessions) as session:
        schedule = await set_weekly(
            session,
            workspace_id=TEAM_B,
            channel_id="CPOLLS",
            plan=plan,
            now=now - timedelta(minutes=5),
            set_by="UANNA",
        )
        schedule_id = schedule.id
    await open_weekly_poll(workspace_id=TEAM_B, schedule_id=schedule_id)
    await app.context.delivery.drain()

    posts = fake_slack.calls_to("chat.postMessage")
    assert {post["channel"] for post in posts} == {"CBRAVO", "CPOLLS"}
    assert set(fake_slack.tokens_used("chat.postMessage")) == {token_b}
    assert token_a not in fake_slack.tokens_used("chat.postMessage")


async def test_a_workspace_that_has_not_installed_whoelse_is_told_where_to_and_nothing_happens(
    app: RunningApp, fake_slack: FakeSlack
) -> None:
    await install(app, fake_slack, TEAM_A)
    fake_slack.reset()
    async with app.context.sessions() as session:
        outbox_before = await session.scalar(select(func.count()).select_from(OutboxMessage))

    answer = await slash_command(app, STRANGERS, "nudge Acme renewal pricing", user="UANNA")
    await app.context.delivery.drain()

    assert answer.status_code == 200
    assert answer.json() == {
        "response_type": "ephemeral",
        "text": f"whoelse isn't installed in this workspace: install it at {INSTALL_URL}",
    }
    assert fake_slack.calls == []
    async with app.context.sessions() as session:
        assert await session.get(Workspace, STRANGERS) is None
        assert await session.scalar(select(func.count()).select_from(OutboxMessage)) == outbox_before


async def test_an_expiring_token_is_rotated_when_a_request_comes_and_the_new_one_is_used_from_then_on(
    app: RunningApp, fake_slack: FakeSlack, many: Settings
) -> None:
    first = await install(app, fake_slack, TEAM_A, rotating=True, expires_in=60)
    fake_slack.reset()

    asked = await slash_command(app, TEAM_A, "nudge Acme renewal pricing", user="UANNA", channel="CALPHA")
    await app.context.delivery.drain()

    assert asked.status_code == 200
    assert [call["grant_type"] for call in fake_slack.calls_to("oauth.v2.access")] == ["refresh_token"]
    rotated = fake_slack.tokens_of(TEAM_A)[-1]
    assert rotated != first
    row = await stored_installation(app, TEAM_A)
    assert row is not None
    assert rotated not in row.bot_token_sealed
    assert many.secret_box().open(row.bot_token_sealed) == rotated
    assert fake_slack.tokens_used("chat.postMessage") == [rotated]
    # Once rotated, the new token lasts: nothing is rotated again.
    await slash_command(app, TEAM_A, "status", user="UANNA")
    assert len(fake_slack.calls_to("oauth.v2.access")) == 1
    assert fake_slack.tokens_used("users.info")[-1] == rotated


async def test_an_expiring_token_is_rotated_by_a_delivery_too(
    app: RunningApp, fake_slack: FakeSlack, many: Settings
) -> None:
    await install(app, fake_slack, TEAM_A)
    first = await install(app, fake_slack, TEAM_B, rotating=True, expires_in=60)
    fake_slack.reset()
    now = app.context.clock()
    plan = WeeklyPlan(weekday=now.weekday(), at=now.time(), timezone="UTC", open_for=timedelta(days=2))
    async with session_scope(app.context.sessions) as session:
        schedule = await set_weekly(
            session,
            workspace_id=TEAM_B,
            channel_id="CPOLLS",
            plan=plan,
            now=now - timedelta(minutes=5),
            set_by="UANNA",
        )
        schedule_id = schedule.id

    await open_weekly_poll(workspace_id=TEAM_B, schedule_id=schedule_id)
    await app.context.delivery.drain()

    rotated = fake_slack.tokens_of(TEAM_B)[-1]
    assert rotated != first
    assert fake_slack.tokens_used("chat.postMessage") == [rotated]
    row = await stored_installation(app, TEAM_B)
    assert row is not None and many.secret_box().open(row.bot_token_sealed) == rotated


async def test_a_reinstall_replaces_the_token_deliveries_use(app: RunningApp, fake_slack: FakeSlack) -> None:
    await install(app, fake_slack, TEAM_A)
    await slash_command(app, TEAM_A, "nudge first", user="UANNA", channel="CALPHA")
    await app.context.delivery.drain()
    second = await install(app, fake_slack, TEAM_A)
    fake_slack.reset()

    await slash_command(app, TEAM_A, "nudge second", user="UANNA", channel="CALPHA")
    await app.context.delivery.drain()

    assert fake_slack.tokens_used("chat.postMessage") == [second]


async def test_server_wide_webhooks_point_to_per_workspace_connections(app: RunningApp) -> None:
    body = b'{"source": "crm", "kind": "deal.created"}'

    for path in ("/webhooks/generic", "/webhooks/jira", "/webhooks/zendesk"):
        answer = await app.post(path, body, webhook_headers(body))
        assert answer.status_code == 503, path
        assert "/whoelse connect" in answer.json()["error"], path


async def test_a_home_tab_in_workspace_b_is_read_and_published_with_b_s_token(
    app: RunningApp, fake_slack: FakeSlack
) -> None:
    await install(app, fake_slack, TEAM_A)
    token_b = await install(app, fake_slack, TEAM_B)
    fake_slack.reset()
    body, headers = slack_event(
        {
            "token": "legacy-verification-token",
            "team_id": TEAM_B,
            "api_app_id": "AWHOELSE",
            "type": "event_callback",
            "event_id": "Ev-home-b",
            "event_time": 1,
            "event": {"type": "app_home_opened", "user": "UBEN", "channel": "DUBEN", "tab": "home"},
        }
    )

    assert (await app.post("/slack/events", body, headers)).status_code == 200

    await eventually(lambda: fake_slack.home_view("UBEN") is not None)
    assert fake_slack.tokens_used("views.publish") == [token_b]
    # Asked once, by the request's authorization: the tab's links are made from that answer.
    assert fake_slack.tokens_used("auth.test") == [token_b]


async def test_a_request_and_a_delivery_that_both_find_the_token_expiring_rotate_it_once(
    app: RunningApp, fake_slack: FakeSlack
) -> None:
    await install(app, fake_slack, TEAM_A, rotating=True, expires_in=60)
    now = app.context.clock()
    plan = WeeklyPlan(weekday=now.weekday(), at=now.time(), timezone="UTC", open_for=timedelta(days=2))
    async with session_scope(app.context.sessions) as session:
        schedule = await set_weekly(
            session,
            workspace_id=TEAM_A,
            channel_id="CPOLLS",
            plan=plan,
            now=now - timedelta(minutes=5),
            set_by="UANNA",
        )
        schedule_id = schedule.id
    await open_weekly_poll(workspace_id=TEAM_A, schedule_id=schedule_id)
    fake_slack.reset()

    answered, _ = await asyncio.gather(
        slash_command(app, TEAM_A, "status", user="UANNA"), app.context.delivery.drain()
    )

    assert answered.json()["text"].startswith("whoelse status")
    assert len(fake_slack.calls_to("oauth.v2.access")) == 1
    rotated = fake_slack.tokens_of(TEAM_A)[-1]
    assert fake_slack.tokens_used("chat.postMessage") == [rotated]
    assert fake_slack.tokens_used("users.info") == [rotated]


async def test_forgetting_a_workspace_s_installation_is_one_call_and_its_token_is_used_no_more(
    app: RunningApp, fake_slack: FakeSlack
) -> None:
    await install(app, fake_slack, TEAM_A)
    token_b = await install(app, fake_slack, TEAM_B)
    await slash_command(app, TEAM_A, "nudge first", user="UANNA", channel="CALPHA")
    await app.context.delivery.drain()
    store = app.app.state.slack.bolt.installation_store

    await store.delete_workspace(TEAM_A)
    fake_slack.reset()
    refused = await slash_command(app, TEAM_A, "status", user="UANNA")
    await slash_command(app, TEAM_B, "nudge still here", user="UBEN", channel="CBRAVO")
    await app.context.delivery.drain()

    assert await stored_installation(app, TEAM_A) is None
    assert refused.json()["text"].startswith("whoelse isn't installed in this workspace")
    assert fake_slack.tokens_used("chat.postMessage") == [token_b]
    async with app.context.sessions() as session:
        # The workspace's habits stay; only its tokens went.
        assert await session.get(Workspace, TEAM_A) is not None


async def test_the_start_up_line_says_where_workspaces_install_whoelse(
    many: Settings, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.INFO, logger="bot.app"):
        async with running(many):
            pass

    [line] = [record.getMessage() for record in caplog.records if record.getMessage().startswith("whoelse is up")]
    assert f"Slack over HTTP for every workspace that installs it at {INSTALL_URL}" in line
    assert line.endswith("webhooks per workspace")
