"""The Home tab on Slack: opening it shows your own side of the habit, and it follows your answers."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from typing import Any

import pytest
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.gateway import PermanentError
from bot.settings import Settings
from bot.teams.connector import BotConnector
from bot.teams.gateway import TeamsGateway
from habits.home import HOME_SNOOZE
from habits.messages import Message
from habits.nudge_message import LOOP_IN_NOBODY
from handlers.slack.home import publisher_of
from models.base import utcnow
from models.db import session_scope
from models.nudges import Nudge
from models.outbox import SENT, OutboxMessage
from models.people import snoozed_until
from tests.conftest import TEAM_ID, RunningApp, eventually
from tests.fakes.slack_api import FakeSlack
from tests.handlers.slash_commands import CHANNEL, running, whoelse
from tests.handlers.test_nudge_answers import button, click, send
from tests.handlers.test_nudge_answers import posted_nudge as asked_by_hand
from tests.support.signing import slack_event


async def posted_nudge(app: RunningApp, fake_slack: FakeSlack) -> tuple[int, str]:
    """A nudge asked by hand, once whoelse has recorded it as posted: the tab lists posted nudges only, and Slack
    shows the post a moment before delivery records it."""
    nudge_id, nudge_ts = await asked_by_hand(app, fake_slack)

    async def recorded() -> bool:
        async with app.context.sessions() as session:
            nudge = await session.get(Nudge, nudge_id)
            post = await session.get(OutboxMessage, nudge.outbox_id) if nudge and nudge.outbox_id else None
            return post is not None and post.status == SENT

    await eventually(recorded)
    return nudge_id, nudge_ts


@pytest.fixture
async def app(settings: Settings, fake_slack: FakeSlack) -> AsyncIterator[RunningApp]:
    fake_slack.add_user("UANA")
    fake_slack.add_user("UBOSS", is_admin=True)
    fake_slack.add_channel(CHANNEL, members=["UANA", "UBOSS"])
    async with running(settings) as application:
        yield application


async def open_home(app: RunningApp, user: str, *, tab: str = "home") -> None:
    body, headers = slack_event(
        {
            "token": "legacy-verification-token",
            "team_id": TEAM_ID,
            "api_app_id": "AWHOELSE",
            "type": "event_callback",
            "event_id": f"Ev-{user}-{tab}-{utcnow().timestamp()}",
            "event_time": int(utcnow().timestamp()),
            "event": {"type": "app_home_opened", "user": user, "channel": f"D{user}", "tab": tab},
        }
    )
    response = await app.post("/slack/events", body, headers)
    assert response.status_code == 200, response.text


def home_text(fake_slack: FakeSlack, user: str) -> str:
    view = fake_slack.home_view(user)
    assert view is not None and view["type"] == "home"
    return json.dumps(view["blocks"])


def published_for(fake_slack: FakeSlack, user: str) -> int:
    return sum(1 for published in fake_slack.views_published if published["user_id"] == user)


async def test_opening_the_home_tab_shows_the_nudges_waiting_for_me_with_links(
    app: RunningApp, fake_slack: FakeSlack
) -> None:
    _nudge_id, nudge_ts = await posted_nudge(app, fake_slack)

    await open_home(app, "UANA")
    await eventually(lambda: fake_slack.home_view("UANA") is not None)

    text = home_text(fake_slack, "UANA")
    link = f"https://fake-slack.example.com/archives/{CHANNEL}/p{nudge_ts.replace('.', '')}|Acme renewal"
    assert "Waiting for your answer (1)" in text and link in text
    assert "Snooze 1 week" in text
    assert "admins only" not in text


async def test_the_tab_s_links_cost_no_call_to_slack_beyond_the_request_s_own_authorization(
    app: RunningApp, fake_slack: FakeSlack
) -> None:
    _nudge_id, nudge_ts = await posted_nudge(app, fake_slack)
    # Any event has its token authorized first (Bolt asks auth.test about the one token once, and keeps the answer).
    await open_home(app, "UANA", tab="messages")
    await asyncio.sleep(0.3)
    asked_before = len(fake_slack.calls_to("auth.test"))

    for person in ("UANA", "UBOSS"):
        await open_home(app, person)
        await eventually(lambda person=person: fake_slack.home_view(person) is not None)

    link = f"https://fake-slack.example.com/archives/{CHANNEL}/p{nudge_ts.replace('.', '')}|Acme renewal"
    assert link in home_text(fake_slack, "UANA") and link in home_text(fake_slack, "UBOSS")
    assert len(fake_slack.calls_to("auth.test")) == asked_before


async def test_the_messages_tab_publishes_nothing(app: RunningApp, fake_slack: FakeSlack) -> None:
    await open_home(app, "UANA", tab="messages")
    await open_home(app, "UBOSS")
    await eventually(lambda: fake_slack.home_view("UBOSS") is not None)

    assert fake_slack.home_view("UANA") is None


async def test_admins_also_see_the_workspace_settings_and_status(app: RunningApp, fake_slack: FakeSlack) -> None:
    await open_home(app, "UBOSS")
    await eventually(lambda: fake_slack.home_view("UBOSS") is not None)

    text = home_text(fake_slack, "UBOSS")
    assert "Workspace (admins only)" in text and "Quiet hours: 19:00" in text and "*Scheduler:*" in text


async def test_the_snooze_button_snoozes_for_a_week_and_then_ends_it(
    app: RunningApp, fake_slack: FakeSlack
) -> None:
    publisher = publisher_of(app.context)
    assert publisher is not None
    publisher.every = 0.2
    await open_home(app, "UANA")
    await eventually(
        lambda: "Snooze 1 week" in home_text(fake_slack, "UANA") if fake_slack.home_view("UANA") else False
    )

    await send(app, home_click("1w"))
    await eventually(lambda: "End snooze" in home_text(fake_slack, "UANA"))
    assert await snooze_ends(app) is not None
    await send(app, home_click("off"))
    await eventually(lambda: "Snooze 1 week" in home_text(fake_slack, "UANA"))
    assert await snooze_ends(app) is None


async def test_a_snooze_typed_as_a_command_shows_on_an_open_home_tab(
    app: RunningApp, fake_slack: FakeSlack
) -> None:
    publisher = publisher_of(app.context)
    assert publisher is not None
    publisher.every = 0.2
    await open_home(app, "UANA")
    await eventually(lambda: fake_slack.home_view("UANA") is not None)

    await whoelse(app, "snooze 2d", user="UANA")

    await eventually(lambda: "End snooze" in home_text(fake_slack, "UANA"))


async def test_answers_refresh_the_tab_at_most_once_per_few_seconds(
    app: RunningApp, fake_slack: FakeSlack
) -> None:
    publisher = publisher_of(app.context)
    assert publisher is not None
    publisher.every = 1.0
    nudge_id, nudge_ts = await posted_nudge(app, fake_slack)
    await open_home(app, "UANA")
    await eventually(lambda: fake_slack.home_view("UANA") is not None)
    assert "Waiting for your answer (1)" in home_text(fake_slack, "UANA")

    # Three answers in quick succession: the first asks for a refresh once the second is allowed, the rest join it.
    await send(app, click(button(LOOP_IN_NOBODY, nudge_id), ts=nudge_ts))
    await send(app, click(button(LOOP_IN_NOBODY, nudge_id), ts=nudge_ts))
    await whoelse(app, "snooze 1h", user="UANA")

    await eventually(lambda: "nothing right now" in home_text(fake_slack, "UANA"))
    assert "End snooze" in home_text(fake_slack, "UANA")
    await asyncio.sleep(1.5)
    assert published_for(fake_slack, "UANA") == 2


async def test_people_who_never_opened_the_tab_are_not_published_to(
    app: RunningApp, fake_slack: FakeSlack
) -> None:
    nudge_id, nudge_ts = await posted_nudge(app, fake_slack)

    await send(app, click(button(LOOP_IN_NOBODY, nudge_id), ts=nudge_ts))
    await eventually(lambda: len(fake_slack.ephemerals) == 1)
    await asyncio.sleep(0.3)

    assert fake_slack.views_published == []


async def test_a_rate_limited_publish_is_tried_again_after_slacks_pause(
    app: RunningApp, fake_slack: FakeSlack
) -> None:
    fake_slack.rate_limit_next("views.publish", retry_after=1)

    await open_home(app, "UANA")

    await eventually(lambda: fake_slack.home_view("UANA") is not None, within=5)
    assert len(fake_slack.calls_to("views.publish")) == 2


async def test_teams_has_no_home_tab(sessions: async_sessionmaker[AsyncSession]) -> None:
    gateway = TeamsGateway(
        workspace_id="tenant",
        bot_id="28:bot",
        sessions=sessions,
        connector=BotConnector(None),
        render=lambda message, names: {},
    )

    with pytest.raises(PermanentError, match="no Home tab on Teams"):
        await gateway.publish_home(user="29:someone", message=Message(text="hi"))


def home_click(value: str) -> dict[str, Any]:
    return {
        "type": "block_actions",
        "team": {"id": TEAM_ID, "domain": "acme"},
        "user": {"id": "UANA", "team_id": TEAM_ID},
        "api_app_id": "AWHOELSE",
        "trigger_id": "trigger-44",
        "container": {"type": "view", "view_id": "V-home"},
        "view": {"id": "V-home", "type": "home"},
        "actions": [
            {
                "type": "button",
                "action_id": HOME_SNOOZE,
                "block_id": "home_snooze",
                "value": value,
                "action_ts": "1",
            }
        ],
    }


async def snooze_ends(app: RunningApp) -> object:
    async with session_scope(app.context.sessions) as session:
        return await snoozed_until(session, workspace_id=TEAM_ID, user_id="UANA", now=utcnow())
