"""Serving one workspace with SLACK_BOT_TOKEN: when that workspace removes whoelse its posts and jobs stop and the
operator is told what to do (the token lives in their configuration), and a request from another Slack team is
refused, touching nothing, unless Slack shows it is for the installed team (a shared channel, an org-wide install)."""

from __future__ import annotations

import contextlib
import logging
from collections.abc import AsyncIterator
from datetime import timedelta

import pytest
from sqlalchemy import func, select

from bot.app import create_app
from bot.delivery import DeliveryPolicy
from bot.settings import Settings
from handlers.slack.one_workspace import ONE_WORKSPACE_MESSAGE, SlackHome, is_for
from models.outbox import FAILED, OutboxMessage
from models.workspace_removal import REMOVED_REASON
from models.workspaces import Workspace
from tests.conftest import TEAM_ID, RunningApp, eventually, serving
from tests.fakes.slack_api import FakeSlack
from tests.handlers.slash_commands import command_form
from tests.installs.removal_support import app_uninstalled, removed_at
from tests.support.signing import slack_event, slack_form, slack_interaction

OTHER_TEAM = "TOTHER"


@pytest.fixture
async def app(settings: Settings, fake_slack: FakeSlack) -> AsyncIterator[RunningApp]:
    fake_slack.add_user("UANNA", is_admin=True)
    async with one_workspace(settings) as running_app:
        yield running_app


def one_workspace(settings: Settings) -> contextlib.AbstractAsyncContextManager[RunningApp]:
    return serving(
        create_app(
            settings,
            background_workers=False,
            job_sources=[],
            delivery_policy=DeliveryPolicy(channel_interval=timedelta(0)),
        )
    )


async def command(app: RunningApp, text: str, *, team_id: str = TEAM_ID, user: str = "UANNA") -> dict[str, object]:
    body, headers = slack_form({**command_form(text, user=user), "team_id": team_id})
    answer = await app.post("/slack/events", body, headers)
    assert answer.status_code == 200
    return dict(answer.json())


async def outbox(app: RunningApp) -> list[OutboxMessage]:
    async with app.context.sessions() as session:
        return list(await session.scalars(select(OutboxMessage).order_by(OutboxMessage.id)))


async def test_app_uninstalled_stops_posts_and_tells_the_operator_what_to_do(
    app: RunningApp, fake_slack: FakeSlack, caplog: pytest.LogCaptureFixture
) -> None:
    await command(app, "nudge Acme renewal pricing")
    fake_slack.reset()

    with caplog.at_level(logging.ERROR, logger="bot.slack.removal"):
        answered = await app_uninstalled(app, TEAM_ID)
    await app.context.delivery.drain()

    assert answered.status_code == 200
    assert await removed_at(app, TEAM_ID) is not None
    assert fake_slack.calls_to("chat.postMessage") == []
    assert [(row.status, row.last_error) for row in await outbox(app)] == [(FAILED, REMOVED_REASON)]
    [line] = [record.getMessage() for record in caplog.records if record.levelno == logging.ERROR]
    assert f"Slack workspace {TEAM_ID} removed whoelse" in line
    assert "put its new bot token in SLACK_BOT_TOKEN" in line and "\n" not in line


async def test_starting_again_with_a_working_token_serves_the_workspace_again(
    settings: Settings, app: RunningApp
) -> None:
    await command(app, "watch deals")
    await app_uninstalled(app, TEAM_ID)

    async with one_workspace(settings) as restarted:
        assert await removed_at(restarted, TEAM_ID) is None


async def test_a_request_from_another_team_is_refused_and_touches_nothing(
    app: RunningApp, fake_slack: FakeSlack
) -> None:
    fake_slack.reset()

    answer = await command(app, "nudge Acme renewal pricing", team_id=OTHER_TEAM)
    body, headers = slack_interaction(
        {
            "type": "block_actions",
            "team": {"id": OTHER_TEAM, "domain": "other"},
            "user": {"id": "UANNA", "team_id": OTHER_TEAM},
            "api_app_id": "AWHOELSE",
            "trigger_id": "trigger-1",
            "actions": [{"action_id": "whoelse_loop_in", "block_id": "b", "value": "1", "type": "button"}],
        }
    )
    clicked = await app.post("/slack/events", body, headers)

    assert answer == {"response_type": "ephemeral", "text": ONE_WORKSPACE_MESSAGE}
    assert (clicked.status_code, clicked.text) == (200, ONE_WORKSPACE_MESSAGE)
    assert fake_slack.calls == []
    async with app.context.sessions() as session:
        assert await session.get(Workspace, OTHER_TEAM) is None
        assert await session.scalar(select(func.count()).select_from(OutboxMessage)) == 0


def home_opened(
    user: str, *, authorizations: list[dict[str, object]] | None = None
) -> tuple[bytes, dict[str, str]]:
    payload: dict[str, object] = {
        "token": "legacy-verification-token",
        "team_id": OTHER_TEAM,
        "api_app_id": "AWHOELSE",
        "type": "event_callback",
        "event_id": f"Ev-home-{user}",
        "event_time": 1,
        "event": {"type": "app_home_opened", "user": user, "channel": f"D{user}", "tab": "home"},
    }
    if authorizations is not None:
        payload["authorizations"] = authorizations
    return slack_event(payload)


async def test_an_event_from_a_channel_shared_with_the_installed_team_is_served(
    app: RunningApp, fake_slack: FakeSlack
) -> None:
    fake_slack.add_user("UFROMOTHER")
    fake_slack.add_user("USHARED")
    installed: list[dict[str, object]] = [
        {"enterprise_id": None, "team_id": TEAM_ID, "user_id": "UWHOELSE", "is_bot": True}
    ]

    refused = await app.post("/slack/events", *home_opened("UFROMOTHER"))
    served = await app.post("/slack/events", *home_opened("USHARED", authorizations=installed))

    assert refused.status_code == served.status_code == 200
    await eventually(lambda: fake_slack.home_view("USHARED") is not None)
    assert fake_slack.home_view("UFROMOTHER") is None
    assert [view["user_id"] for view in fake_slack.calls_to("views.publish")] == ["USHARED"]


@pytest.mark.parametrize(
    ("home", "team_id", "enterprise_id", "served"),
    [
        (SlackHome("T1"), "T1", None, True),
        (SlackHome("T1"), "T2", None, False),
        # A workspace install inside an Enterprise Grid org serves that workspace, not its neighbours.
        (SlackHome("T1", enterprise_id="E1"), "T2", "E1", False),
        # An org-wide install serves every workspace of its org.
        (SlackHome("E1", enterprise_id="E1", is_enterprise_install=True), "T2", "E1", True),
        (SlackHome("E1", enterprise_id="E1", is_enterprise_install=True), "T3", "E9", False),
    ],
)
def test_which_teams_one_token_answers_for(
    home: SlackHome, team_id: str, enterprise_id: str | None, served: bool
) -> None:
    assert is_for(home, team_id=team_id, enterprise_id=enterprise_id, body={}) is served
