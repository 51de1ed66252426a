"""Scheduled elephant polls in a Teams tenant: the weekly poll opens in its Teams channel, and the one reminder
reaches the Teams people who have not taken part, never Slack."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from datetime import timedelta

import pytest

from bot.app import create_app
from bot.delivery import DeliveryPolicy
from bot.settings import Settings
from habits.elephants.schedule import WeeklyPlan, set_weekly
from models.db import session_scope
from scheduler.elephant_jobs import open_weekly_poll, remind_open_polls
from scheduler.runtime import clear_job_context, set_job_context
from tests.conftest import RunningApp, eventually, serving
from tests.fakes.bot_connector import FakeBotConnector
from tests.fakes.microsoft_login import FakeMicrosoftLogin
from tests.fakes.slack_api import FakeSlack
from tests.handlers.test_elephant_command import Clock, first_working_hour_after
from tests.support.teams import APP_ID, BOT_FRAMEWORK_ISSUER, teams_request
from tests.teams.activities import CHANNEL, TENANT, bot_added

PEOPLE = {"29:1anna": "Anna", "29:1boris": "Boris"}


@pytest.fixture
def connector(request: pytest.FixtureRequest) -> Iterator[FakeBotConnector]:
    # Tests that need Teams to throttle pass the fake's limits as a parameter.
    fake = FakeBotConnector(app_id=APP_ID, **getattr(request, "param", {}))
    fake.start()
    for user, name in PEOPLE.items():
        fake.add_member(user, name)
    yield fake
    fake.stop()


@pytest.fixture
def microsoft_login() -> Iterator[FakeMicrosoftLogin]:
    with FakeMicrosoftLogin() as login:
        yield login


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
async def app(
    settings: Settings, connector: FakeBotConnector, microsoft_login: FakeMicrosoftLogin, clock: Clock
) -> AsyncIterator[RunningApp]:
    """Slack and Teams on together, so a Teams poll that went to Slack would be seen to; jobs are run by hand."""
    both = Settings(
        _env_file=None,
        **{
            **settings.model_dump(),
            "teams_app_id": APP_ID,
            "teams_app_password": connector.app_password,
            "teams_openid_metadata_url": microsoft_login.metadata_url,
            "teams_token_url": connector.token_url,
        },
    )
    policy = DeliveryPolicy(channel_interval=timedelta(0))
    application = create_app(both, clock=clock, background_workers=False, delivery_policy=policy, job_sources=[])
    async with serving(application) as running:
        set_job_context(running.context)
        yield running
        clear_job_context(running.context)


async def weekly_poll_in_teams_channel(
    app: RunningApp,
    connector: FakeBotConnector,
    login: FakeMicrosoftLogin,
    *,
    open_for: timedelta,
    channel: str = CHANNEL,
) -> int:
    """whoelse is added to a Teams channel (as Teams tells it), which then has a weekly poll due now."""
    token = login.token(aud=APP_ID, iss=BOT_FRAMEWORK_ISSUER, serviceurl=connector.service_url)
    body, headers = teams_request(bot_added(connector.service_url, conversation_id=channel), token)
    assert (await app.post("/api/messages", body, headers)).status_code == 200
    now = app.context.clock()
    plan = WeeklyPlan(weekday=now.weekday(), at=now.time(), timezone="UTC", open_for=open_for)
    async with session_scope(app.context.sessions) as session:
        schedule = await set_weekly(
            session,
            workspace_id=TENANT,
            channel_id=channel,
            plan=plan,
            now=now - timedelta(minutes=5),
            set_by="UHOST",
        )
        schedule_id = schedule.id
    await app.context.delivery.drain()
    return schedule_id


def poll_posts(connector: FakeBotConnector) -> list[str]:
    return [sent.conversation_id for sent in connector.activities() if "elephant" in str(sent.activity).lower()]


async def test_a_teams_channel_s_weekly_poll_opens_in_that_channel(
    app: RunningApp, connector: FakeBotConnector, microsoft_login: FakeMicrosoftLogin, fake_slack: FakeSlack
) -> None:
    schedule_id = await weekly_poll_in_teams_channel(app, connector, microsoft_login, open_for=timedelta(days=2))

    await open_weekly_poll(workspace_id=TENANT, schedule_id=schedule_id)
    await app.context.delivery.drain()

    assert poll_posts(connector) == [CHANNEL]
    assert fake_slack.messages() == []


async def test_teams_people_who_have_not_answered_get_the_reminder_in_their_teams_chat(
    app: RunningApp,
    connector: FakeBotConnector,
    microsoft_login: FakeMicrosoftLogin,
    fake_slack: FakeSlack,
    clock: Clock,
) -> None:
    # Open for six days, so the reminder window always holds a weekday working hour, whatever day this runs.
    schedule_id = await weekly_poll_in_teams_channel(app, connector, microsoft_login, open_for=timedelta(days=6))
    await open_weekly_poll(workspace_id=TENANT, schedule_id=schedule_id)
    await app.context.delivery.drain()
    opened = clock.now

    reminder_time = first_working_hour_after(opened + timedelta(days=2))
    clock.advance(seconds=(reminder_time - opened).total_seconds())
    await remind_open_polls(app.context)
    await app.context.delivery.drain()

    assert {created["members"][0]["id"] for created in connector.created_conversations} == PEOPLE.keys()
    reminders = [sent for sent in connector.activities() if sent.conversation_id.startswith("a:personal-")]
    assert len({sent.conversation_id for sent in reminders}) == len(reminders) == len(PEOPLE)
    assert all("elephant-in-the-room poll open" in str(sent.activity) for sent in reminders)
    assert fake_slack.messages() == []


@pytest.mark.parametrize("connector", [{"bot_limit_per_second": 2}], indirect=True)
async def test_when_teams_throttles_every_channel_still_gets_its_poll_exactly_once(
    app: RunningApp, connector: FakeBotConnector, microsoft_login: FakeMicrosoftLogin
) -> None:
    channels = [f"19:elephants-{n}@thread.tacv2" for n in range(4)]
    for channel in channels:
        schedule_id = await weekly_poll_in_teams_channel(
            app, connector, microsoft_login, open_for=timedelta(days=2), channel=channel
        )
        await open_weekly_poll(workspace_id=TENANT, schedule_id=schedule_id)

    async def all_posted() -> bool:
        await app.context.delivery.drain()
        return len(poll_posts(connector)) >= len(channels)

    await eventually(all_posted, within=20, interval=0.2)
    assert sorted(poll_posts(connector)) == sorted(channels)
    assert connector.throttled > 0, "Teams said 429 at least once, and whoelse waited and tried again"
