"""CRM and helpdesk bots posting in channels watched with `/whoelse watch deals|tickets`: their notifications are
answered in their own thread, once, and nobody else's messages are mistaken for them."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator
from datetime import time
from typing import Any

import pytest
from sqlalchemy import func, select

from bot.app import create_app
from bot.context import AppContext
from bot.settings import Settings
from habits.bot_posts import Link
from habits.nudge_message import WHO_ELSE
from handlers.slack.events import bot_post_from
from models.db import session_scope
from models.events import ReceivedEvent
from models.outbox import SENT, OutboxMessage
from models.watches import WatchKind, watch_channel
from models.workspaces import get_or_create_workspace
from tests.conftest import TEAM_ID, RunningApp, eventually, serving
from tests.fakes.slack_api import BOT_ID, BOT_USER_ID, FakeSlack
from tests.handlers.slash_commands import command_form
from tests.support.databases import table_offline
from tests.support.mentions import pings_in
from tests.support.signing import slack_event, slack_form

DEALS = "CDEALS"
SUPPORT = "CSUPPORT"
TS = "1764000000.000100"
SALESFORCE = "BSALESFORCE"


async def given_watching(
    context: AppContext, watching: dict[str, WatchKind], *, quiet: time | None = None
) -> None:
    """The bot's workspace, without quiet hours so the time of day never matters, watching some channels."""
    async with session_scope(context.sessions) as session:
        workspace = await get_or_create_workspace(session, workspace_id=TEAM_ID)
        workspace.quiet_start = workspace.quiet_end = quiet
        for channel, kind in watching.items():
            await watch_channel(session, workspace_id=TEAM_ID, channel_id=channel, kind=kind, user_id="UADMIN")


def message(channel: str = DEALS, ts: str = TS, **fields: Any) -> dict[str, Any]:
    """A message event as Slack sends it; by default a CRM bot's post."""
    event = {
        "type": "message",
        "subtype": "bot_message",
        "bot_id": SALESFORCE,
        "username": "Salesforce",
        "channel": channel,
        "channel_type": "channel",
        "ts": ts,
        "event_ts": ts,
        "text": "",
    } | fields
    return {
        "token": "verification-token",
        "team_id": TEAM_ID,
        "api_app_id": "AWHOELSE",
        "type": "event_callback",
        "event_id": f"Ev{ts.replace('.', '')}",
        "event_time": int(float(ts)),
        "event": {key: value for key, value in event.items() if value is not None},
    }


async def deliver(app: RunningApp, payload: dict[str, Any], *, retry_num: int | None = None) -> None:
    """Sends a Slack event and waits for the listeners it started: Bolt acknowledges first and works after."""
    before = asyncio.all_tasks()
    body, headers = slack_event(payload, retry_num=retry_num)
    response = await app.post("/slack/events", body, headers)
    assert response.status_code == 200
    started = asyncio.all_tasks() - before
    if started:
        _done, pending = await asyncio.wait(started, timeout=10)
        assert not pending, "a Slack listener did not finish"


@pytest.fixture(autouse=True)
def listeners_never_fail(caplog: pytest.LogCaptureFixture) -> Iterator[None]:
    """A listener that crashed would also record nothing: every test here also proves none did."""
    yield
    failures = [record for record in caplog.get_records("call") if record.getMessage() == "Slack listener failed"]
    assert failures == []


async def recorded(context: AppContext) -> list[ReceivedEvent]:
    async with context.sessions() as session:
        return list(await session.scalars(select(ReceivedEvent).order_by(ReceivedEvent.id)))


async def posts_once_delivered(app: RunningApp, fake_slack: FakeSlack, channel: str) -> list[dict[str, Any]]:
    """What the channel shows once every stored post is decided (after Slack's ack) and everything due is sent."""

    async def everything_decided() -> bool:
        return all(event.outcome is not None for event in await recorded(app.context))

    async def everything_sent() -> bool:
        async with app.context.sessions() as session:
            return set(await session.scalars(select(OutboxMessage.status))) <= {SENT}

    await eventually(everything_decided)
    await eventually(everything_sent)
    return fake_slack.messages(channel)


async def test_a_crm_bots_stage_change_is_answered_in_its_thread(
    running_app: RunningApp, fake_slack: FakeSlack
) -> None:
    await given_watching(running_app.context, {DEALS: "deals"})

    await deliver(
        running_app,
        message(
            text="Opportunity <https://acme.my.salesforce.com/006A1|Acme - 500 seats> moved to stage "
            "*Negotiation/Review* by <https://acme.my.salesforce.com/005J9|Jane Doe>"
        ),
    )

    [nudge] = await posts_once_delivered(running_app, fake_slack, DEALS)
    assert nudge["thread_ts"] == TS
    assert "Acme - 500 seats" in nudge["text"] and "Negotiation/Review" in nudge["text"]
    assert WHO_ELSE in nudge["text"]
    [event] = await recorded(running_app.context)
    assert (event.source, event.external_id, event.kind) == ("slack_message", f"{DEALS}:{TS}", "deal")
    assert event.url == "https://acme.my.salesforce.com/006A1"


async def test_posts_made_only_of_attachments_are_read(running_app: RunningApp, fake_slack: FakeSlack) -> None:
    await given_watching(running_app.context, {DEALS: "deals"})

    await deliver(
        running_app,
        message(
            bot_id="BHUBSPOT",
            attachments=[
                {
                    "fallback": "Deal stage changed: Acme renewal",
                    "pretext": "Deal stage changed",
                    "title": "Acme renewal",
                    "title_link": "https://app.hubspot.com/contacts/1/deal/77",
                    "fields": [
                        {"title": "Deal stage", "value": "Contract sent", "short": True},
                        {"title": "Company", "value": "Acme", "short": True},
                    ],
                }
            ],
        ),
    )

    [nudge] = await posts_once_delivered(running_app, fake_slack, DEALS)
    assert nudge["thread_ts"] == TS
    assert "Acme renewal" in nudge["text"] and "Contract sent" in nudge["text"]
    [event] = await recorded(running_app.context)
    assert (event.account, event.url) == ("Acme", "https://app.hubspot.com/contacts/1/deal/77")


async def test_a_helpdesk_escalation_in_a_channel_watching_tickets_is_a_ticket(
    running_app: RunningApp, fake_slack: FakeSlack
) -> None:
    await given_watching(running_app.context, {SUPPORT: "tickets"})

    await deliver(
        running_app,
        message(
            channel=SUPPORT,
            subtype=None,
            bot_id="BZENDESK",
            blocks=[
                {
                    "type": "section",
                    "text": {
                        "type": "mrkdwn",
                        "text": "Ticket <https://acme.zendesk.com/agent/tickets/4521|#4521 Printer on fire> "
                        "was escalated",
                    },
                },
                {"type": "context", "elements": [{"type": "mrkdwn", "text": "Organization: Acme"}]},
            ],
        ),
    )

    [nudge] = await posts_once_delivered(running_app, fake_slack, SUPPORT)
    assert nudge["thread_ts"] == TS
    assert "#4521 Printer on fire" in nudge["text"] and "escalated" in nudge["text"]
    [event] = await recorded(running_app.context)
    assert (event.kind, event.event) == ("ticket", "escalated")


@pytest.mark.parametrize(
    ("description", "event"),
    [
        ("a person", {"subtype": None, "bot_id": None, "user": "UJANE"}),
        ("whoelse itself", {"subtype": None, "bot_id": BOT_ID, "user": BOT_USER_ID}),
        ("an edit of a bot's post", {"subtype": "message_changed", "message": {"text": "moved to stage Won"}}),
        ("a bot in a channel nobody watches", {"channel": "CRANDOM"}),
    ],
)
async def test_only_other_bots_posts_in_watched_channels_count(
    running_app: RunningApp, fake_slack: FakeSlack, description: str, event: dict[str, Any]
) -> None:
    await given_watching(running_app.context, {DEALS: "deals"})

    await deliver(running_app, message(text="Deal 'Acme renewal' moved to stage Contract sent", **event))

    assert await recorded(running_app.context) == [], description
    assert fake_slack.calls_to("chat.postMessage") == []


async def test_bot_posts_announcing_nothing_worth_a_nudge_are_left_alone(
    running_app: RunningApp, fake_slack: FakeSlack
) -> None:
    await given_watching(running_app.context, {DEALS: "deals"})

    await deliver(running_app, message(text="Jane Doe logged a call with <https://crm.example.com/a/1|Acme>"))

    assert await recorded(running_app.context) == []
    assert fake_slack.calls_to("chat.postMessage") == []


async def test_a_slack_retry_of_the_same_post_nudges_once(running_app: RunningApp, fake_slack: FakeSlack) -> None:
    await given_watching(running_app.context, {DEALS: "deals"})
    post = message(text="Deal 'Acme renewal' moved to stage Contract sent")

    await deliver(running_app, post)
    await deliver(running_app, post, retry_num=1)
    await deliver(running_app, post, retry_num=2)

    assert len(await recorded(running_app.context)) == 1
    assert len(await posts_once_delivered(running_app, fake_slack, DEALS)) == 1


async def test_a_retry_arriving_while_the_first_delivery_is_handled_still_nudges_once(
    running_app: RunningApp, fake_slack: FakeSlack
) -> None:
    await given_watching(running_app.context, {DEALS: "deals"})
    post = message(text="Deal 'Acme renewal' moved to stage Contract sent")

    await asyncio.gather(deliver(running_app, post), deliver(running_app, post, retry_num=1))

    assert len(await posts_once_delivered(running_app, fake_slack, DEALS)) == 1
    async with running_app.context.sessions() as session:
        assert await session.scalar(select(func.count()).select_from(OutboxMessage)) == 1


async def test_a_post_is_stored_before_slack_hears_back_so_a_crash_right_after_loses_nothing(
    settings: Settings, fake_slack: FakeSlack
) -> None:
    # Without background work, every task that runs was started by the request; the next start is played by hand.
    async with serving(create_app(settings, background_workers=False)) as app:
        await given_watching(app.context, {DEALS: "deals"})
        before = asyncio.all_tasks()
        body, headers = slack_event(message(text="Deal 'Acme renewal' moved to stage Contract sent"))

        response = await app.post("/slack/events", body, headers)
        # The process dies the moment Slack has its answer: whatever the request left to run never runs.
        for unfinished in asyncio.all_tasks() - before:
            unfinished.cancel()

        assert response.status_code == 200
        assert [event.external_id for event in await recorded(app.context)] == [f"{DEALS}:{TS}"]
        # The next start decides what was stored and sends what that queued.
        await app.intake.drain()
        await app.context.delivery.drain()
        assert len(await posts_once_delivered(app, fake_slack, DEALS)) == 1


async def test_a_post_that_cannot_be_stored_is_answered_with_an_error_so_slack_retries_and_the_retry_nudges(
    running_app: RunningApp, fake_slack: FakeSlack, caplog: pytest.LogCaptureFixture
) -> None:
    context = running_app.context
    await given_watching(context, {DEALS: "deals"})
    body, headers = slack_event(message(text="Deal 'Acme renewal' moved to stage Contract sent"))

    async with table_offline(context.engine, "events"):
        refused = await running_app.post("/slack/events", body, headers)

    assert refused.status_code >= 500
    assert await recorded(context) == []
    await deliver(running_app, message(text="Deal 'Acme renewal' moved to stage Contract sent"), retry_num=1)
    assert len(await posts_once_delivered(running_app, fake_slack, DEALS)) == 1
    # The refusal was logged once, as every listener failure is. (Deciding in the background may log its own errors
    # while the table is away; those are not Slack's.)
    assert [record.getMessage() for record in caplog.records if record.name == "handlers.slack"] == [
        "Slack listener failed"
    ]
    caplog.clear()


async def test_another_post_about_the_same_moment_is_not_nudged_again(
    running_app: RunningApp, fake_slack: FakeSlack
) -> None:
    await given_watching(running_app.context, {DEALS: "deals"})
    link = "<https://app.hubspot.com/contacts/1/deal/77|Acme renewal>"
    await deliver(running_app, message(text=f"Deal {link} moved to stage Contract sent"))

    await deliver(
        running_app, message(ts="1764000060.000200", text=f"Deal stage changed to Contract sent: {link}")
    )

    assert len(await posts_once_delivered(running_app, fake_slack, DEALS)) == 1
    assert [event.outcome for event in await recorded(running_app.context)] == ["nudged", "duplicate_juncture"]


async def test_in_a_channel_watching_deals_and_tickets_the_wording_decides(
    running_app: RunningApp, fake_slack: FakeSlack
) -> None:
    await given_watching(running_app.context, {DEALS: "deals", SUPPORT: "tickets"})
    await given_watching(running_app.context, {SUPPORT: "deals"})

    await deliver(
        running_app, message(channel=SUPPORT, text="Ticket #4521: Priority changed from Normal to Urgent")
    )

    [event] = await recorded(running_app.context)
    assert (event.kind, event.priority) == ("ticket", "Urgent")
    [nudge] = await posts_once_delivered(running_app, fake_slack, SUPPORT)
    assert "Urgent" in nudge["text"]


async def test_a_channel_that_starts_watching_turns_the_very_next_bot_post_into_a_nudge(
    running_app: RunningApp, fake_slack: FakeSlack
) -> None:
    await given_watching(running_app.context, {})
    await deliver(running_app, message(text="Deal 'Acme renewal' moved to stage Contract sent"))
    assert await recorded(running_app.context) == []

    body, headers = slack_form(command_form("watch deals", user="UADMIN", channel=DEALS))
    assert (await running_app.post("/slack/events", body, headers)).status_code == 200
    await deliver(running_app, message(ts="1764000060.000200", text="Deal 'Acme renewal' moved to stage Won"))

    [nudge] = await posts_once_delivered(running_app, fake_slack, DEALS)
    assert "Won" in nudge["text"]


def test_slack_formatting_is_read_as_people_see_it() -> None:
    post = bot_post_from(
        message(
            text="&lt;Pipeline&gt; <!here> <https://crm.example.com/d/1|Acme &amp; Co> owned by <@UJANE> "
            "in <#CSALES|sales>\n\nmoved to stage Won",
            blocks=[
                {
                    "type": "rich_text",
                    "elements": [
                        {
                            "type": "rich_text_section",
                            "elements": [
                                {"type": "text", "text": "Details: "},
                                {"type": "link", "url": "https://crm.example.com/d/1/notes", "text": "notes"},
                            ],
                        }
                    ],
                }
            ],
        )["event"]
    )

    assert post is not None
    assert post.lines == (
        "<Pipeline> @here Acme & Co owned by @UJANE in #sales",
        "moved to stage Won",
        "Details: notes",
    )
    assert post.links == (
        Link(url="https://crm.example.com/d/1", label="Acme & Co"),
        Link(url="https://crm.example.com/d/1/notes", label="notes"),
    )
    assert (post.channel_id, post.ts, post.thread_ts) == (DEALS, TS, None)


def test_a_bot_reply_inside_a_thread_remembers_the_thread() -> None:
    post = bot_post_from(message(ts="1764000099.000900", thread_ts=TS, text="Deal stage changed to Won")["event"])

    assert post is not None
    assert post.thread_ts == TS


async def test_mention_markup_in_a_crm_posts_link_pings_nobody_and_the_link_still_leads_to_the_deal(
    running_app: RunningApp, fake_slack: FakeSlack
) -> None:
    await given_watching(running_app.context, {DEALS: "deals"})

    await deliver(
        running_app,
        message(
            text="Opportunity <https://crm.example.com/d?who=@{U0000009}&g=@{group:S123}|Acme renewal> "
            "moved to stage Negotiation"
        ),
    )

    [nudge] = await posts_once_delivered(running_app, fake_slack, DEALS)
    assert pings_in(nudge) == []
    assert "<https://crm.example.com/d?who=@%7BU0000009%7D&g=@%7Bgroup:S123%7D|" in json.dumps(nudge["blocks"])
