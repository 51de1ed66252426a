"""Teams conversations, through the real app: whoelse remembers where it was added, answers commands there, and
posts proactively through the same outbox as Slack, at the service URL Teams gave, with the tenant's own
references only."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Iterator
from datetime import timedelta
from typing import Any

import httpx
import pytest
from sqlalchemy import select

from bot.app import create_app
from bot.delivery import DeliveryPolicy
from bot.gateway import PermanentError
from bot.settings import Settings
from bot.teams.connector import BotConnector, BotCredentials
from habits.messages import Message
from models.db import session_scope
from models.outbox import FAILED, PENDING, SENT, OutboxMessage, enqueue
from models.teams import TeamsConversation, mark_uninstalled
from models.watches import ChannelWatch
from models.workspaces import Workspace, get_or_create_workspace
from tests.conftest import TEAM_ID, RunningApp, eventually, serving, unpaced
from tests.fakes.bot_connector import REGION_PATH, FakeBotConnector
from tests.fakes.microsoft_login import FakeMicrosoftLogin
from tests.fakes.slack_api import FakeSlack
from tests.support.signing import WEBHOOK_SECRET, webhook_headers
from tests.support.teams import APP_ID, BOT_FRAMEWORK_ISSUER, teams_request
from tests.teams.activities import (
    CHANNEL,
    JANE,
    OTHER_TENANT,
    TENANT,
    bot_added,
    card_action,
    dialog_fetch,
    message_to_bot,
    personal_chat,
    uninstalled,
)


@pytest.fixture
def connector() -> Iterator[FakeBotConnector]:
    fake = FakeBotConnector(app_id=APP_ID)
    fake.start()
    yield fake
    fake.stop()


@pytest.fixture
def microsoft_login() -> Iterator[FakeMicrosoftLogin]:
    with FakeMicrosoftLogin() as login:
        yield login


@pytest.fixture
async def app(
    settings: Settings, connector: FakeBotConnector, microsoft_login: FakeMicrosoftLogin
) -> AsyncIterator[RunningApp]:
    """Slack and Teams on together; delivery is driven by hand (`drain`)."""
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
    async with serving(create_app(both, background_workers=False, delivery_policy=policy)) as running:
        yield running


async def send(
    app: RunningApp, login: FakeMicrosoftLogin, connector: FakeBotConnector, activity: dict[str, Any]
) -> httpx.Response:
    token = login.token(aud=APP_ID, iss=BOT_FRAMEWORK_ISSUER, serviceurl=connector.service_url)
    body, headers = teams_request(activity, token)
    response = await app.post("/api/messages", body, headers)
    assert response.status_code == 200, response.text
    return response


async def drain(app: RunningApp) -> None:
    await app.context.delivery.drain()


async def outbox(app: RunningApp) -> list[OutboxMessage]:
    async with app.context.sessions() as session:
        return list(await session.scalars(select(OutboxMessage).order_by(OutboxMessage.id)))


async def test_adding_whoelse_to_a_channel_remembers_it_and_says_hello_there(
    app: RunningApp, connector: FakeBotConnector, microsoft_login: FakeMicrosoftLogin
) -> None:
    await send(app, microsoft_login, connector, bot_added(connector.service_url))
    await drain(app)

    async with app.context.sessions() as session:
        workspace = await session.get(Workspace, TENANT)
        reference = await session.get(TeamsConversation, (TENANT, CHANNEL))
    assert workspace is not None and workspace.platform == "teams"
    assert reference is not None and reference.service_url == connector.service_url
    [welcome] = connector.activities()
    assert welcome.conversation_id == CHANNEL
    assert "Who else needs to know?" in welcome.activity["text"]


async def test_help_typed_to_the_bot_is_answered_in_that_message_s_thread_in_the_order_people_need(
    app: RunningApp, connector: FakeBotConnector, microsoft_login: FakeMicrosoftLogin
) -> None:
    question = message_to_bot("help", connector.service_url)
    await send(app, microsoft_login, connector, question)
    await drain(app)

    [reply] = connector.activities()
    assert reply.conversation_id == f"{CHANNEL};messageid={question['id']}"
    lines = [line for line in reply.activity["text"].split("\n\n") if line.startswith("•")]
    # Typed to the bot as is: no /whoelse prefix on Teams.
    assert lines[0].startswith("• **help**") and lines[1].startswith("• **nudge ‹topic›**")


async def test_replies_keep_the_service_url_teams_gave_region_path_included(
    app: RunningApp, connector: FakeBotConnector, microsoft_login: FakeMicrosoftLogin
) -> None:
    # The fake only answers under its region path: a reply sent to the bare host would get 404 and fail.
    assert connector.service_url.endswith(REGION_PATH + "/")
    await send(app, microsoft_login, connector, message_to_bot("help", connector.service_url))
    await drain(app)

    assert [row.status for row in await outbox(app)] == [SENT]


async def test_a_channel_watches_deals_from_teams_and_a_personal_chat_cannot(
    app: RunningApp, connector: FakeBotConnector, microsoft_login: FakeMicrosoftLogin
) -> None:
    await send(app, microsoft_login, connector, message_to_bot("watch deals", connector.service_url))
    await send(app, microsoft_login, connector, personal_chat("watch tickets", connector.service_url))
    await drain(app)

    async with app.context.sessions() as session:
        watches = [(w.workspace_id, w.channel_id, w.kind) for w in await session.scalars(select(ChannelWatch))]
    assert watches == [(TENANT, CHANNEL, "deals")]
    channel_reply, personal_reply = connector.activities()
    assert "now watches deals" in channel_reply.activity["text"]
    assert "#{" not in channel_reply.activity["text"]
    assert "Only channels can watch" in personal_reply.activity["text"]


async def test_a_nudge_typed_on_teams_asks_the_two_questions_in_that_channel(
    app: RunningApp, connector: FakeBotConnector, microsoft_login: FakeMicrosoftLogin
) -> None:
    await send(app, microsoft_login, connector, bot_added(connector.service_url))
    await send(
        app, microsoft_login, connector, message_to_bot("nudge Acme renewal pricing", connector.service_url)
    )
    await drain(app)

    cards = [sent for sent in connector.activities() if sent.activity.get("attachments")]
    [nudge] = [sent for sent in cards if sent.conversation_id == CHANNEL]
    card = nudge.activity["attachments"][0]["content"]
    verbs = [action.get("verb") for element in card["body"] for action in element.get("actions", [])]
    assert "whoelse_loop_in_nobody" in verbs
    assert "Acme renewal pricing" in str(card)


async def test_after_whoelse_is_removed_nothing_more_is_posted_in_that_team(
    app: RunningApp, connector: FakeBotConnector, microsoft_login: FakeMicrosoftLogin
) -> None:
    await send(app, microsoft_login, connector, bot_added(connector.service_url))
    await drain(app)
    await send(app, microsoft_login, connector, uninstalled(connector.service_url))
    async with session_scope(app.context.sessions) as session:
        await enqueue(
            session,
            workspace_id=TENANT,
            idempotency_key="late-poll",
            message=Message(text="poll"),
            channel_id=CHANNEL,
        )
    await drain(app)

    late = (await outbox(app))[-1]
    assert late.status == FAILED and "not installed" in (late.last_error or "")
    assert len(connector.activities()) == 1


async def test_one_tenant_s_messages_never_use_another_tenant_s_conversation(
    app: RunningApp, connector: FakeBotConnector, microsoft_login: FakeMicrosoftLogin
) -> None:
    await send(app, microsoft_login, connector, bot_added(connector.service_url, tenant=TENANT))
    await drain(app)
    async with session_scope(app.context.sessions) as session:
        await get_or_create_workspace(session, workspace_id=OTHER_TENANT, platform="teams")
        # A row of the other tenant addressed to this tenant's channel (a forged or mixed-up id).
        await enqueue(
            session,
            workspace_id=OTHER_TENANT,
            idempotency_key="cross",
            message=Message(text="x"),
            channel_id=CHANNEL,
        )
    await drain(app)

    cross = (await outbox(app))[-1]
    assert cross.status == FAILED
    assert len(connector.activities()) == 1


async def test_a_teams_throttle_waits_for_its_retry_after_then_posts_once(
    app: RunningApp, connector: FakeBotConnector, microsoft_login: FakeMicrosoftLogin
) -> None:
    connector.fail_next(429, retry_after=7)
    await send(app, microsoft_login, connector, bot_added(connector.service_url))
    await app.context.delivery.run_once()

    [row] = await outbox(app)
    assert row.status == PENDING and row.attempts == 0
    assert row.not_before >= row.created_at + timedelta(seconds=6)
    assert connector.activities() == []

    later = row.not_before + timedelta(seconds=1)
    app.context.delivery.clock = lambda: later
    await drain(app)
    assert [sent.conversation_id for sent in connector.activities()] == [CHANNEL]


async def test_slack_and_teams_workspaces_each_post_on_their_own_platform(
    app: RunningApp, connector: FakeBotConnector, microsoft_login: FakeMicrosoftLogin, fake_slack: FakeSlack
) -> None:
    await send(app, microsoft_login, connector, bot_added(connector.service_url))
    async with session_scope(app.context.sessions) as session:
        await get_or_create_workspace(session, workspace_id=TEAM_ID)
        await enqueue(
            session,
            workspace_id=TEAM_ID,
            idempotency_key="slack-post",
            message=Message(text="hi"),
            channel_id="C1",
        )
    await drain(app)

    assert [params.get("channel") for params in fake_slack.calls_to("chat.postMessage")] == ["C1"]
    assert [sent.conversation_id for sent in connector.activities()] == [CHANNEL]


async def test_a_direct_message_opens_one_personal_chat_and_reuses_it(
    app: RunningApp, connector: FakeBotConnector, microsoft_login: FakeMicrosoftLogin
) -> None:
    await send(app, microsoft_login, connector, bot_added(connector.service_url))
    async with session_scope(app.context.sessions) as session:
        for key in ("reminder-1", "reminder-2"):
            await enqueue(
                session, workspace_id=TENANT, idempotency_key=key, message=Message(text=key), dm_user_id=JANE
            )
    await drain(app)

    assert len(connector.created_conversations) == 1
    assert connector.created_conversations[0]["members"] == [{"id": JANE}]
    assert connector.created_conversations[0]["tenantId"] == TENANT
    personal = {sent.conversation_id for sent in connector.activities()[1:]}
    assert len(personal) == 1 and next(iter(personal)).startswith("a:")


async def test_the_bot_s_token_is_fetched_once_and_reused(
    app: RunningApp, connector: FakeBotConnector, microsoft_login: FakeMicrosoftLogin
) -> None:
    await send(app, microsoft_login, connector, bot_added(connector.service_url))
    for _ in range(3):
        await send(app, microsoft_login, connector, message_to_bot("help", connector.service_url))
    await drain(app)

    assert len(connector.activities()) == 4
    assert connector.token_requests == 1


async def test_wrong_bot_credentials_fail_the_post_naming_the_settings(connector: FakeBotConnector) -> None:
    wrong = BotConnector(BotCredentials(connector.app_id, "not-the-password", connector.token_url))
    try:
        with pytest.raises(PermanentError, match="TEAMS_APP_PASSWORD"):
            await wrong.call("POST", connector.service_url, "v3/conversations/x/activities", {"type": "message"})
    finally:
        await wrong.close()


async def test_a_card_action_or_dialog_whoelse_does_not_take_on_teams_yet_is_answered_plainly(
    app: RunningApp, connector: FakeBotConnector, microsoft_login: FakeMicrosoftLogin
) -> None:
    clicked = await send(
        app, microsoft_login, connector, card_action("some_future_button", {}, connector.service_url)
    )
    opened = await send(
        app, microsoft_login, connector, dialog_fetch("some_future_form", {}, connector.service_url)
    )

    assert clicked.json()["type"] == "application/vnd.microsoft.activity.message"
    assert "coming to Teams" in clicked.json()["value"]
    assert opened.json() == {"task": {"type": "message", "value": clicked.json()["value"]}}


async def test_a_webhook_for_a_single_tenant_teams_bot_nudges_the_teams_channel_that_watches_deals(
    database_url: str, connector: FakeBotConnector, microsoft_login: FakeMicrosoftLogin
) -> None:
    teams_only = Settings(
        _env_file=None,
        database_url=database_url,
        teams_app_id=APP_ID,
        teams_app_password=connector.app_password,
        teams_tenant_id=TENANT,
        teams_openid_metadata_url=microsoft_login.metadata_url,
        teams_token_url=connector.token_url,
        whoelse_webhook_secret=WEBHOOK_SECRET,
        delivery_poll_seconds=0.05,
    )
    async with serving(create_app(teams_only, delivery_policy=unpaced())) as app:
        await send(app, microsoft_login, connector, bot_added(connector.service_url))
        await send(app, microsoft_login, connector, message_to_bot("watch deals", connector.service_url))
        # Whatever the time of day the test runs at: no quiet hours to hold the nudge back.
        async with session_scope(app.context.sessions) as session:
            workspace = await session.get(Workspace, TENANT)
            assert workspace is not None
            workspace.quiet_start = workspace.quiet_end = None
        body = json.dumps(
            {"id": "crm-1", "type": "deal", "event": "closed_won", "title": "Acme renewal", "account": "Acme"}
        ).encode()
        accepted = await app.post("/webhooks/generic", body, webhook_headers(body))

        def nudged() -> bool:
            return any("Acme renewal" in str(sent.activity.get("attachments")) for sent in connector.activities())

        await eventually(nudged)
    assert accepted.status_code == 202
    [nudge] = [sent for sent in connector.activities() if "Acme renewal" in str(sent.activity.get("attachments"))]
    assert nudge.conversation_id == CHANNEL


async def test_on_teams_an_owner_email_is_not_matched_and_the_owner_is_shown_by_name(
    database_url: str, connector: FakeBotConnector, microsoft_login: FakeMicrosoftLogin
) -> None:
    teams_only = Settings(
        _env_file=None,
        database_url=database_url,
        teams_app_id=APP_ID,
        teams_app_password=connector.app_password,
        teams_tenant_id=TENANT,
        teams_openid_metadata_url=microsoft_login.metadata_url,
        teams_token_url=connector.token_url,
        whoelse_webhook_secret=WEBHOOK_SECRET,
        delivery_poll_seconds=0.05,
    )
    async with serving(create_app(teams_only, delivery_policy=unpaced())) as app:
        await send(app, microsoft_login, connector, bot_added(connector.service_url))
        await send(app, microsoft_login, connector, message_to_bot("watch deals", connector.service_url))
        async with session_scope(app.context.sessions) as session:
            # Without quiet hours, so the time of day the test runs at does not hold the nudge back.
            workspace = await get_or_create_workspace(session, workspace_id=TENANT)
            workspace.quiet_start, workspace.quiet_end = None, None
        event = {"id": "crm-2", "type": "deal", "event": "closed_won", "title": "Globex renewal"}
        body = json.dumps(event | {"owner": "Dana S.", "owner_email": "dana@acme.example"}).encode()
        await app.post("/webhooks/generic", body, webhook_headers(body))

        def nudged() -> bool:
            return any(
                "Globex renewal" in str(sent.activity.get("attachments")) for sent in connector.activities()
            )

        await eventually(nudged)
    [nudge] = [
        sent for sent in connector.activities() if "Globex renewal" in str(sent.activity.get("attachments"))
    ]
    card = json.dumps(nudge.activity)
    assert "Dana S." in card
    assert "dana@acme.example" not in card
    assert "<at>" not in card


async def test_a_tenant_whose_id_is_a_slack_workspace_s_is_refused_and_nothing_of_that_workspace_is_touched(
    app: RunningApp, connector: FakeBotConnector, microsoft_login: FakeMicrosoftLogin
) -> None:
    async with session_scope(app.context.sessions) as session:
        await get_or_create_workspace(session, workspace_id=TENANT, platform="slack")
    token = microsoft_login.token(aud=APP_ID, iss=BOT_FRAMEWORK_ISSUER, serviceurl=connector.service_url)

    body, headers = teams_request(message_to_bot("watch deals", connector.service_url), token)
    typed = await app.post("/api/messages", body, headers)
    clicked = await send(
        app,
        microsoft_login,
        connector,
        card_action("whoelse_roundtable_coming", {"value": "1"}, connector.service_url),
    )
    await drain(app)

    assert typed.status_code == 403
    assert "another chat platform" in typed.json()["error"]
    assert "another chat platform" in clicked.json()["value"]
    async with app.context.sessions() as session:
        assert list(await session.scalars(select(ChannelWatch))) == []
        assert list(await session.scalars(select(TeamsConversation))) == []
    assert await outbox(app) == []
    assert connector.activities() == []


async def test_messages_from_a_conversation_whoelse_knows_do_not_rewrite_where_it_is(
    app: RunningApp, connector: FakeBotConnector, microsoft_login: FakeMicrosoftLogin
) -> None:
    await send(app, microsoft_login, connector, message_to_bot("help", connector.service_url))
    async with app.context.sessions() as session:
        first = await session.get(TeamsConversation, (TENANT, CHANNEL))
    await send(app, microsoft_login, connector, message_to_bot("stats", connector.service_url))
    async with app.context.sessions() as session:
        second = await session.get(TeamsConversation, (TENANT, CHANNEL))
    await drain(app)

    assert first is not None and second is not None
    assert second.updated_at == first.updated_at
    assert len(connector.activities()) == 2


async def test_a_message_after_whoelse_was_removed_and_added_back_reaches_that_conversation_again(
    app: RunningApp, connector: FakeBotConnector, microsoft_login: FakeMicrosoftLogin
) -> None:
    await send(app, microsoft_login, connector, message_to_bot("help", connector.service_url))
    await send(app, microsoft_login, connector, uninstalled(connector.service_url))
    await send(app, microsoft_login, connector, message_to_bot("help", connector.service_url))
    await drain(app)

    async with app.context.sessions() as session:
        reference = await session.get(TeamsConversation, (TENANT, CHANNEL))
    assert reference is not None and reference.installed
    assert [row.status for row in await outbox(app)] == [SENT, SENT]


async def test_a_message_teams_delivers_twice_is_answered_once(
    app: RunningApp, connector: FakeBotConnector, microsoft_login: FakeMicrosoftLogin
) -> None:
    question = message_to_bot("help", connector.service_url)
    await send(app, microsoft_login, connector, question)
    await send(app, microsoft_login, connector, question)
    await drain(app)

    assert len(await outbox(app)) == 1
    assert len(connector.activities()) == 1


async def test_an_install_is_recorded_even_after_another_replica_recorded_the_removal(
    app: RunningApp, connector: FakeBotConnector, microsoft_login: FakeMicrosoftLogin
) -> None:
    await send(app, microsoft_login, connector, message_to_bot("help", connector.service_url))
    # Another replica handled the removal: this one still remembers the conversation as it stored it.
    async with session_scope(app.context.sessions) as session:
        await mark_uninstalled(session, workspace_id=TENANT, team_id=None, conversation_id=CHANNEL)
    await send(app, microsoft_login, connector, {**uninstalled(connector.service_url), "action": "add"})

    async with app.context.sessions() as session:
        reference = await session.get(TeamsConversation, (TENANT, CHANNEL))
    assert reference is not None and reference.installed
