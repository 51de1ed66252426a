"""CRM and helpdesk bots posting in Teams channels that watch deals or tickets: with the channel-messages consent,
Teams shows whoelse every message of the channel; an app's deal card is answered with a nudge in its own thread, once,
and nobody's words are mistaken for it, answered or stored."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import Any

import pytest
from sqlalchemy import func, select

from bot.settings import Settings
from habits.nudge_message import WHO_ELSE
from models.db import session_scope
from models.events import ReceivedEvent
from models.outbox import OutboxMessage
from models.workspaces import Workspace
from tests.fakes.bot_connector import FakeBotConnector
from tests.fakes.microsoft_login import FakeMicrosoftLogin
from tests.handlers.test_elephant_command import Clock
from tests.support.databases import table_offline
from tests.support.teams import APP_ID, BOT_FRAMEWORK_ISSUER, teams_request
from tests.teams.activities import BOT, CHANNEL, OTHER_TENANT, TENANT, bot_added
from tests.teams.scenario import OTHER_CONVERSATION, Teams, by, cards, send, serving_teams

# A CRM's Teams app, as its posts name it: Bot Framework bots post under "28:<their app id>".
CRM_APP = "28:5a0c9e2b-7d41-4f6a-9b3e-1c2d3e4f5a6b"
DEAL_URL = "https://app.hubspot.com/contacts/4242/record/0-3/9876"


def crm_card_post(
    service_url: str, *, tenant: str = TENANT, conversation_id: str = CHANNEL, post_id: str = "1764000000111"
) -> dict[str, Any]:
    """A CRM app's Adaptive Card announcing a deal's stage change, as Teams delivers it to whoelse: nobody mentioned,
    the words in the card's TextBlocks and FactSet, the deal's link in the card's markdown and its button."""
    card = {
        "type": "AdaptiveCard",
        "version": "1.4",
        "body": [
            {"type": "TextBlock", "text": "Deal stage changed", "weight": "Bolder"},
            {"type": "TextBlock", "text": f"[Acme Corp renewal]({DEAL_URL})", "wrap": True},
            {
                "type": "FactSet",
                "facts": [
                    {"title": "Stage", "value": "Contract sent"},
                    {"title": "Deal owner", "value": "Jane Doe"},
                    {"title": "Company", "value": "Acme Corp"},
                ],
            },
        ],
        "actions": [{"type": "Action.OpenUrl", "title": "View deal", "url": DEAL_URL}],
    }
    return {
        "type": "message",
        "id": post_id,
        "channelId": "msteams",
        "serviceUrl": service_url,
        "from": {"id": CRM_APP, "name": "HubSpot"},
        "recipient": {"id": BOT, "name": "whoelse"},
        "conversation": {
            "id": conversation_id,
            "conversationType": "channel",
            "isGroup": True,
            "tenantId": tenant,
        },
        "channelData": {"tenant": {"id": tenant}, "team": {"id": "19:team-general@thread.tacv2"}},
        "text": "",
        "attachments": [{"contentType": "application/vnd.microsoft.card.adaptive", "content": card}],
    }


def person_writes(text: str, service_url: str) -> dict[str, Any]:
    """A person's message in the channel that mentions nobody, with words a CRM would use."""
    post = crm_card_post(service_url, post_id="1764000000222")
    return by("Omar Haddad", {**post, "text": f"<p>{text}</p>", "attachments": []})


@pytest.fixture
async def channel(
    settings: Settings, bot_connector: FakeBotConnector, microsoft_login: FakeMicrosoftLogin, clock: Clock
) -> AsyncIterator[Teams]:
    """whoelse in a Teams channel that watches deals, without quiet hours so the time of day holds nothing back."""
    async with serving_teams(settings, bot_connector, microsoft_login, clock) as app:
        await send(app, microsoft_login, bot_connector, bot_added(bot_connector.service_url))
        teams = Teams(app, microsoft_login, bot_connector)
        await teams.type("watch deals")
        async with session_scope(app.context.sessions) as session:
            workspace = await session.get(Workspace, TENANT)
            assert workspace is not None
            workspace.quiet_start = workspace.quiet_end = None
        bot_connector.sent.clear()
        yield teams


async def deliver(teams: Teams, activity: dict[str, Any]) -> None:
    """Sends the activity as Teams does, then lets whoelse decide and post whatever it came to."""
    await send(teams.app, teams.login, teams.connector, activity)
    assert teams.app.context.intake is not None
    await teams.app.context.intake.drain()
    await teams.app.context.delivery.drain()


async def stored_events(teams: Teams) -> list[ReceivedEvent]:
    async with teams.app.context.sessions() as session:
        return list(await session.scalars(select(ReceivedEvent)))


async def queued_posts(teams: Teams) -> int:
    async with teams.app.context.sessions() as session:
        return int(await session.scalar(select(func.count()).select_from(OutboxMessage)) or 0)


async def test_a_crm_apps_deal_card_in_a_watching_channel_is_answered_with_a_nudge_in_its_thread(
    channel: Teams,
) -> None:
    await deliver(channel, crm_card_post(channel.connector.service_url))

    [(sent, nudge)] = list(cards(channel.connector))
    assert sent.conversation_id == f"{CHANNEL};messageid=1764000000111"
    shown = json.dumps(nudge, ensure_ascii=False)
    assert "Acme Corp renewal" in shown and "Contract sent" in shown and WHO_ELSE in shown
    [event] = await stored_events(channel)
    assert (event.source, event.external_id, event.kind) == ("teams_message", f"{CHANNEL}:1764000000111", "deal")
    assert (event.url, event.workspace_id) == (DEAL_URL, TENANT)


async def test_the_same_post_delivered_twice_nudges_once(channel: Teams) -> None:
    post = crm_card_post(channel.connector.service_url)

    await deliver(channel, post)
    await deliver(channel, post)

    assert len(list(cards(channel.connector))) == 1
    assert len(await stored_events(channel)) == 1


async def test_a_crm_post_in_a_thread_is_answered_in_that_thread(channel: Teams) -> None:
    reply = crm_card_post(
        channel.connector.service_url,
        conversation_id=f"{CHANNEL};messageid=1764000000001",
        post_id="1764000000333",
    )

    await deliver(channel, reply)

    [(sent, _nudge)] = list(cards(channel.connector))
    assert sent.conversation_id == f"{CHANNEL};messageid=1764000000001"


async def test_a_persons_message_that_mentions_nobody_is_neither_answered_nor_stored(channel: Teams) -> None:
    before = await queued_posts(channel)

    await deliver(
        channel,
        person_writes(
            "Deal stage changed: Acme Corp renewal moved to stage Closed Won", channel.connector.service_url
        ),
    )

    assert channel.connector.activities() == []
    assert await stored_events(channel) == []
    assert await queued_posts(channel) == before


async def test_a_persons_message_that_mentions_whoelse_is_still_a_command(channel: Teams) -> None:
    reply = await channel.type("help", person="Omar Haddad")

    assert "watch" in reply


async def test_a_crm_post_in_a_channel_that_does_not_watch_does_nothing(channel: Teams) -> None:
    await send(
        channel.app,
        channel.login,
        channel.connector,
        bot_added(channel.connector.service_url, conversation_id=OTHER_CONVERSATION),
    )
    # The welcome whoelse posts where it is added goes first.
    await channel.app.context.delivery.drain()
    channel.connector.sent.clear()

    await deliver(channel, crm_card_post(channel.connector.service_url, conversation_id=OTHER_CONVERSATION))

    assert channel.connector.activities() == []
    assert await stored_events(channel) == []


async def test_another_tenants_post_never_lands_in_this_tenants_watching_channel(channel: Teams) -> None:
    # The same conversation id, from a tenant that has not watched anything.
    await deliver(channel, crm_card_post(channel.connector.service_url, tenant=OTHER_TENANT))

    assert channel.connector.activities() == []
    assert await stored_events(channel) == []
    async with channel.app.context.sessions() as session:
        assert await session.get(Workspace, OTHER_TENANT) is None


async def test_whoelses_own_posts_are_never_taken_for_a_crms(channel: Teams) -> None:
    own = {**crm_card_post(channel.connector.service_url), "from": {"id": BOT, "name": "whoelse"}}

    await deliver(channel, own)

    assert channel.connector.activities() == []
    assert await stored_events(channel) == []


async def test_a_post_that_cannot_be_stored_is_refused_so_teams_sends_it_again(channel: Teams) -> None:
    post = crm_card_post(channel.connector.service_url)
    body, headers = teams_request(
        post, channel.login.token(aud=APP_ID, iss=BOT_FRAMEWORK_ISSUER, serviceurl=channel.connector.service_url)
    )

    async with table_offline(channel.app.context.engine, "events"):
        refused = await channel.app.post("/api/messages", body, headers)

    assert refused.status_code == 503
    assert "retry" in refused.json()["error"]
    await deliver(channel, post)
    assert len(list(cards(channel.connector))) == 1
