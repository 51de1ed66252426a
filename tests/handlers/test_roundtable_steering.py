"""Who may set up, change and cancel a round-table when a workspace keeps that to admins and whoever set it up."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from sqlalchemy import update

from bot.app import create_app
from bot.settings import Settings
from habits.roundtables.messages import CANCEL_BUTTON, CHANGE_BUTTON
from models.db import session_scope
from models.roundtables import roundtable_for_channel
from models.workspaces import STEERING_ADMINS, Workspace, get_or_create_workspace
from scheduler.roundtable_jobs import job_source
from tests.conftest import TEAM_ID, RunningApp, eventually, serving, unpaced
from tests.fakes.slack_api import FakeSlack
from tests.handlers.test_roundtable_command import CHANNEL, Clock, click, command, open_form, setup_values, submit

REFUSED = "only workspace admins and whoever set it up"


@pytest.fixture
async def app(settings: Settings, fake_slack: FakeSlack) -> AsyncIterator[RunningApp]:
    fake_slack.add_user("UANNA", tz="America/New_York")
    fake_slack.add_user("UBEN")
    fake_slack.add_user("UADMIN", is_admin=True)
    fake_slack.add_usergroup("SMKT", handle="marketing", name="Marketing", users=["UBEN"])
    fake_slack.add_channel(CHANNEL, members=["UANNA", "UBEN", "UADMIN"])
    application = create_app(settings, clock=Clock(), job_sources=[job_source], delivery_policy=unpaced())
    async with serving(application) as running:
        yield running


async def keep_steering_to_admins(app: RunningApp) -> None:
    async with session_scope(app.context.sessions) as session:
        await get_or_create_workspace(session, workspace_id=TEAM_ID)
        await session.execute(update(Workspace).values(poll_steering=STEERING_ADMINS))


async def test_only_admins_and_the_creator_see_and_use_change_and_cancel(
    app: RunningApp, fake_slack: FakeSlack
) -> None:
    form = await open_form(app, fake_slack, "roundtable set")
    assert await submit(app, form, setup_values(), user="UANNA") == {}
    await keep_steering_to_admins(app)

    assert CANCEL_BUTTON in str(await command(app, "roundtable", user="UANNA")), "the creator gets the controls"
    overview = await command(app, "roundtable", user="UBEN")
    assert CANCEL_BUTTON not in str(overview) and CHANGE_BUTTON not in str(overview)
    assert REFUSED in (await command(app, "roundtable cancel", user="UBEN"))["text"]
    assert await submit(app, form, setup_values(time="16:00"), user="UANNA") == {}, "the creator may change it"

    await click(app, CANCEL_BUTTON, "1", user="UBEN")
    await eventually(lambda: any(REFUSED in note["text"] for note in fake_slack.ephemerals))
    async with session_scope(app.context.sessions) as session:
        assert await roundtable_for_channel(session, workspace_id=TEAM_ID, channel_id=CHANNEL) is not None

    assert "Cancelled" in (await command(app, "roundtable cancel", user="UADMIN"))["text"]


async def test_a_form_opened_before_the_rule_changed_is_refused_for_someone_it_no_longer_lets_in(
    app: RunningApp, fake_slack: FakeSlack
) -> None:
    form = await open_form(app, fake_slack, "roundtable set")
    await keep_steering_to_admins(app)

    refused = await submit(app, form, setup_values(), user="UANNA")

    assert refused["response_action"] == "errors"
    assert REFUSED in refused["errors"]["cadence"]
