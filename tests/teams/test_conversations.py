"""Teams conversations: whoelse remembers where it was added, answers there, and posts proactively through the
same outbox as Slack, at the service URL Teams gave, with the tenant's own references only."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from datetime import timedelta

import pytest
from slack_sdk.web.async_client import AsyncWebClient
from sqlalchemy import select

from bot.context import AppContext
from bot.delivery import DeliveryPolicy, DeliveryWorker
from bot.gateway import PermanentError
from bot.gateways import GatewayDirectory
from bot.settings import Settings
from bot.slack.gateway import SlackGateway
from bot.teams.connector import BotConnector, BotCredentials
from bot.teams.gateway import TeamsGateway
from habits.messages import Message
from handlers.teams.activities import dispatch
from models.db import create_engine_for, create_session_factory, session_scope
from models.outbox import FAILED, PENDING, SENT, OutboxMessage, enqueue
from models.teams import TeamsConversation
from models.workspaces import Workspace, get_or_create_workspace
from tests.conftest import TEAM_ID
from tests.fakes.bot_connector import REGION_PATH, FakeBotConnector
from tests.fakes.slack_api import FakeSlack
from tests.teams.activities import BOT, CHANNEL, JANE, OTHER_TENANT, TENANT, bot_added, message_to_bot, uninstalled


@pytest.fixture
def connector() -> Iterator[FakeBotConnector]:
    fake = FakeBotConnector()
    fake.start()
    yield fake
    fake.stop()


@pytest.fixture
async def context(settings: Settings, connector: FakeBotConnector) -> AsyncIterator[AppContext]:
    engine = create_engine_for(settings.database_url)
    sessions = create_session_factory(engine)
    slack = SlackGateway(AsyncWebClient(token=settings.secret("slack_bot_token"), base_url=settings.slack_api_url))
    bot_connector = BotConnector(BotCredentials(connector.app_id, connector.app_password, connector.token_url))

    def teams(workspace_id: str) -> TeamsGateway:
        return TeamsGateway(workspace_id=workspace_id, bot_id=BOT, sessions=sessions, connector=bot_connector)

    directory = GatewayDirectory(sessions, slack=slack, teams=teams)
    delivery = DeliveryWorker(
        sessions=sessions, gateways=directory, policy=DeliveryPolicy(channel_interval=timedelta(0))
    )
    yield AppContext(
        settings=settings,
        engine=engine,
        sessions=sessions,
        gateway=slack,
        delivery=delivery,
        default_workspace_id=TEAM_ID,
    )
    await bot_connector.close()
    await engine.dispose()


async def outbox(context: AppContext) -> list[OutboxMessage]:
    async with context.sessions() as session:
        return list(await session.scalars(select(OutboxMessage).order_by(OutboxMessage.id)))


async def test_adding_whoelse_to_a_channel_remembers_it_and_says_hello_there(
    context: AppContext, connector: FakeBotConnector
) -> None:
    await dispatch(bot_added(connector.service_url), context)
    await context.delivery.drain()

    async with context.sessions() as session:
        workspace = await session.get(Workspace, TENANT)
        reference = await session.get(TeamsConversation, (TENANT, CHANNEL))
    assert workspace is not None and workspace.platform == "teams"
    assert reference is not None and reference.service_url == connector.service_url
    [welcome] = connector.activities()
    assert welcome.conversation_id == CHANNEL
    assert "Who else needs to know?" in welcome.activity["text"]


async def test_help_typed_to_the_bot_in_a_channel_is_answered_in_that_message_s_thread(
    context: AppContext, connector: FakeBotConnector
) -> None:
    await dispatch(bot_added(connector.service_url), context)
    question = message_to_bot("help", connector.service_url)
    await dispatch(question, context)
    await context.delivery.drain()

    reply = connector.activities()[-1]
    assert reply.conversation_id == f"{CHANNEL};messageid={question.id}"
    lines = [line for line in reply.activity["text"].splitlines() if line.startswith("•")]
    assert lines[0].startswith("• `help`") and lines[1].startswith("• `nudge <topic>`")


async def test_replies_keep_the_service_url_teams_gave_region_path_included(
    context: AppContext, connector: FakeBotConnector
) -> None:
    # The fake only answers under its region path: a reply sent to the bare host would get 404 and fail.
    assert connector.service_url.endswith(REGION_PATH + "/")
    await dispatch(message_to_bot("help", connector.service_url), context)
    await context.delivery.drain()

    assert [row.status for row in await outbox(context)] == [SENT]


async def test_after_whoelse_is_removed_nothing_more_is_posted_in_that_team(
    context: AppContext, connector: FakeBotConnector
) -> None:
    await dispatch(bot_added(connector.service_url), context)
    await context.delivery.drain()
    await dispatch(uninstalled(connector.service_url), context)
    async with session_scope(context.sessions) as session:
        await enqueue(
            session,
            workspace_id=TENANT,
            idempotency_key="late-poll",
            message=Message(text="poll"),
            channel_id=CHANNEL,
        )
    await context.delivery.drain()

    late = (await outbox(context))[-1]
    assert late.status == FAILED and "not installed" in (late.last_error or "")
    assert len(connector.activities()) == 1


async def test_one_tenant_s_messages_never_use_another_tenant_s_conversation(
    context: AppContext, connector: FakeBotConnector
) -> None:
    await dispatch(bot_added(connector.service_url, tenant=TENANT), context)
    await context.delivery.drain()
    async with session_scope(context.sessions) as session:
        await get_or_create_workspace(session, workspace_id=OTHER_TENANT, platform="teams")
        # A row of the other tenant addressed to this tenant's channel (a forged or mixed-up id).
        await enqueue(
            session,
            workspace_id=OTHER_TENANT,
            idempotency_key="cross",
            message=Message(text="x"),
            channel_id=CHANNEL,
        )
    await context.delivery.drain()

    cross = (await outbox(context))[-1]
    assert cross.status == FAILED
    assert len(connector.activities()) == 1


async def test_a_teams_throttle_waits_for_its_retry_after_then_posts_once(
    context: AppContext, connector: FakeBotConnector
) -> None:
    await dispatch(bot_added(connector.service_url), context)
    connector.fail_next(429, retry_after=7)
    await context.delivery.run_once()

    [row] = await outbox(context)
    assert row.status == PENDING and row.attempts == 0
    assert row.not_before >= row.created_at + timedelta(seconds=6)
    assert connector.activities() == []

    later = row.not_before + timedelta(seconds=1)
    context.delivery.clock = lambda: later
    context.delivery._lane_ready_at.clear()
    await context.delivery.drain()
    assert [sent.conversation_id for sent in connector.activities()] == [CHANNEL]


async def test_slack_and_teams_workspaces_each_post_on_their_own_platform(
    context: AppContext, connector: FakeBotConnector, fake_slack: FakeSlack
) -> None:
    await dispatch(bot_added(connector.service_url), context)
    async with session_scope(context.sessions) as session:
        await get_or_create_workspace(session, workspace_id=TEAM_ID)
        await enqueue(
            session,
            workspace_id=TEAM_ID,
            idempotency_key="slack-post",
            message=Message(text="hi"),
            channel_id="C1",
        )
    await context.delivery.drain()

    assert [params.get("channel") for params in fake_slack.calls_to("chat.postMessage")] == ["C1"]
    assert [sent.conversation_id for sent in connector.activities()] == [CHANNEL]


async def test_a_direct_message_opens_one_personal_chat_and_reuses_it(
    context: AppContext, connector: FakeBotConnector
) -> None:
    await dispatch(bot_added(connector.service_url), context)
    async with session_scope(context.sessions) as session:
        for key in ("reminder-1", "reminder-2"):
            await enqueue(
                session, workspace_id=TENANT, idempotency_key=key, message=Message(text=key), dm_user_id=JANE
            )
    await context.delivery.drain()

    assert len(connector.created_conversations) == 1
    assert connector.created_conversations[0]["members"] == [{"id": JANE}]
    assert connector.created_conversations[0]["tenantId"] == TENANT
    personal = {sent.conversation_id for sent in connector.activities()[1:]}
    assert len(personal) == 1 and next(iter(personal)).startswith("a:")


async def test_the_bot_s_token_is_fetched_once_and_reused(
    context: AppContext, connector: FakeBotConnector
) -> None:
    await dispatch(bot_added(connector.service_url), context)
    for _ in range(3):
        await dispatch(message_to_bot("help", connector.service_url), context)
    await context.delivery.drain()

    assert len(connector.activities()) == 4
    assert connector.token_requests == 1


async def test_wrong_bot_credentials_fail_the_post_naming_the_settings(connector: FakeBotConnector) -> None:
    wrong = BotConnector(BotCredentials(connector.app_id, "not-the-password", connector.token_url))
    try:
        with pytest.raises(PermanentError, match="TEAMS_APP_PASSWORD"):
            await wrong.call("POST", connector.service_url, "v3/conversations/x/activities", {"type": "message"})
    finally:
        await wrong.close()
