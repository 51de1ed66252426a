"""The everyday `/whoelse` subcommands through the real app, Slack's signed requests and the fake Slack Web API."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import timedelta
from urllib.parse import urlencode

import pytest
from sqlalchemy import func, select

from bot.settings import Settings
from habits.messages import WORD_JOINER
from models.base import utcnow
from models.db import session_scope
from models.nudges import Nudge
from models.outbox import SENT, OutboxMessage
from models.people import snoozed_users
from models.watches import ChannelWatch, home_channel, watched_kinds
from tests.conftest import TEAM_ID, RunningApp, eventually
from tests.fakes.slack_api import FakeSlack
from tests.handlers.slash_commands import CHANNEL, command_form, reply_to, running
from tests.support.logs import failures
from tests.support.mentions import pings_in
from tests.support.signing import slack_headers

SUPPORT = "CSUPPORT"


@pytest.fixture
async def app(settings: Settings, fake_slack: FakeSlack) -> AsyncIterator[RunningApp]:
    fake_slack.add_user("UANNA", tz="Europe/Berlin")
    fake_slack.add_user("UBEN", tz="America/New_York")
    async with running(settings) as application:
        yield application


async def watches(app: RunningApp, channel: str = CHANNEL) -> set[str]:
    async with session_scope(app.context.sessions) as session:
        return await watched_kinds(session, workspace_id=TEAM_ID, channel_id=channel)


async def home(app: RunningApp, kind: str) -> str | None:
    async with session_scope(app.context.sessions) as session:
        return await home_channel(session, workspace_id=TEAM_ID, kind=kind)  # type: ignore[arg-type]


async def test_watching_and_unwatching_a_channel_round_trip(app: RunningApp) -> None:
    reply = await reply_to(app, "watch deals", user="UANNA")
    assert reply.startswith("<#CSALES> now watches deals")
    assert "Deal events from webhooks that name no channel go to <#CSALES>." in reply
    assert await watches(app) == {"deals"}

    assert (await reply_to(app, "watch deals", user="UBEN")).startswith(
        "<#CSALES> already watches deals, so nothing changed."
    )
    # A second channel watching deals does not take over webhook deals: the longest-watching channel keeps them.
    assert "Deal events from webhooks that name no channel go to <#CSALES>." in await reply_to(
        app, "watch Deal", user="UBEN", channel=SUPPORT
    )
    assert await home(app, "deals") == CHANNEL

    reply = await reply_to(app, "unwatch deals", user="UANNA")
    assert reply == (
        "<#CSALES> no longer watches deals. Deal events from webhooks that name no channel go to <#CSUPPORT>."
    )
    assert await watches(app) == set()
    assert await home(app, "deals") == SUPPORT
    assert (
        await reply_to(app, "unwatch deals", user="UANNA")
        == "<#CSALES> wasn't watching deals, so nothing changed."
    )

    assert "No channel watches deals now" in await reply_to(app, "unwatch deals", user="UBEN", channel=SUPPORT)
    assert await home(app, "deals") is None


@pytest.mark.parametrize(
    ("conversation", "name"),
    [
        ("DANNA", "directmessage"),
        ("DANNA", "privategroup"),
        ("GANNABEN", "mpdm-anna--ben-1"),
        ("C0MPDM", "mpdm-x-1"),
    ],
)
async def test_a_direct_message_cannot_watch_so_webhook_events_never_land_in_ones_dms(
    app: RunningApp, conversation: str, name: str
) -> None:
    for kind in ("tickets", "deals"):
        reply = await reply_to(app, f"watch {kind}", user="UANNA", channel=conversation, channel_name=name)

        assert reply.startswith("Only channels can watch deals or tickets, so nothing changed here.")
        assert await watches(app, conversation) == set()
        assert await home(app, kind) is None


async def test_tickets_are_watched_separately_from_deals(app: RunningApp) -> None:
    await reply_to(app, "watch tickets", user="UANNA")
    await reply_to(app, "watch deals", user="UANNA")
    await reply_to(app, "unwatch tickets", user="UANNA")

    assert await watches(app) == {"deals"}


@pytest.mark.parametrize(
    ("text", "first_line"),
    [
        ("watch", "Usage: `/whoelse watch deals|tickets`."),
        ("watch leads", "I don't know `leads` after `/whoelse watch`."),
        ("unwatch", "Usage: `/whoelse unwatch deals|tickets`."),
        ("unwatch everything", "I don't know `everything` after `/whoelse unwatch`."),
    ],
)
async def test_watching_something_unknown_gets_a_usage_line_and_changes_nothing(
    app: RunningApp, text: str, first_line: str
) -> None:
    await reply_to(app, "watch tickets", user="UANNA")

    reply = await reply_to(app, text, user="UANNA")

    verb = text.split()[0]
    assert reply.startswith(first_line)
    assert f"Usage: `/whoelse {verb} deals|tickets`. A watching channel gets a nudge" in reply
    assert reply.endswith("<#CSALES> watches tickets.")
    assert await watches(app) == {"tickets"}


async def test_a_nudge_by_hand_is_posted_in_the_channel_exactly_once(
    app: RunningApp, fake_slack: FakeSlack
) -> None:
    reply = await reply_to(app, "nudge  Acme renewal   pricing ", user="UANNA")

    assert reply == (
        "Asked the channel who else needs to know about *Acme renewal pricing*, and what else we can help with."
    )

    async def sent() -> bool:
        async with session_scope(app.context.sessions) as session:
            return await session.scalar(select(OutboxMessage.status)) == SENT

    await eventually(sent)
    posted = fake_slack.messages(CHANNEL)
    assert len(posted) == 1
    assert "<@UANNA> asks about: *Acme renewal pricing*" in posted[0]["text"]
    assert "Who else needs to know?" in posted[0]["text"]
    assert fake_slack.duplicates_by_metadata_key() == {}
    async with session_scope(app.context.sessions) as session:
        nudge = await session.scalar(select(Nudge))
    assert nudge is not None
    assert (nudge.channel_id, nudge.created_by, nudge.title) == (CHANNEL, "UANNA", "Acme renewal pricing")


async def test_a_nudge_by_hand_pings_only_the_people_its_author_mentioned(
    app: RunningApp, fake_slack: FakeSlack
) -> None:
    await reply_to(
        app,
        "nudge Acme @{U0000009} @{group:S123} #{C0000009} <!subteam^S123|@sales> <!channel> <!here> <!everyone> "
        "for <@UBEN|ben> and <@UANNA>",
        user="UANNA",
    )

    await eventually(lambda: len(fake_slack.messages(CHANNEL)) == 1)
    [posted] = fake_slack.messages(CHANNEL)
    assert set(pings_in(posted)) == {"<@UANNA>", "<@UBEN>"}
    # Shown as written, so the channel still reads what was typed.
    assert f"Acme @U0000009 @group:S123 #C0000009 @{WORD_JOINER}sales @{WORD_JOINER}channel" in posted["text"]
    assert "<#C0000009>" not in posted["text"]


async def test_a_nudge_without_a_topic_gets_a_usage_line_and_posts_nothing(
    app: RunningApp, fake_slack: FakeSlack
) -> None:
    reply = await reply_to(app, "nudge   ", user="UANNA")

    # Slack shows &lt;topic&gt; as <topic>; unescaped, it would read it as a link.
    assert reply.startswith("Usage: `/whoelse nudge &lt;topic&gt;`, e.g. `/whoelse nudge Acme renewal pricing`.")
    async with session_scope(app.context.sessions) as session:
        assert await session.scalar(select(func.count()).select_from(OutboxMessage)) == 0
    assert fake_slack.calls_to("chat.postMessage") == []


async def test_snoozing_answers_on_the_persons_own_clock(app: RunningApp) -> None:
    before = utcnow()
    reply = await reply_to(app, "snooze 2d", user="UANNA")
    after = utcnow()

    assert reply.startswith("Snoozed until ")
    assert "(Europe/Berlin), 2 days from now." in reply
    async with session_scope(app.context.sessions) as session:
        assert await snoozed_users(session, workspace_id=TEAM_ID, now=after + timedelta(days=2, minutes=-1)) == {
            "UANNA"
        }
        assert (
            await snoozed_users(session, workspace_id=TEAM_ID, now=before + timedelta(days=2, minutes=1)) == set()
        )

    assert "(America/New_York)" in await reply_to(app, "snooze 4h", user="UBEN")
    assert (await reply_to(app, "snooze off", user="UANNA")).startswith("Snooze ended")
    async with session_scope(app.context.sessions) as session:
        assert await snoozed_users(session, workspace_id=TEAM_ID, now=utcnow()) == {"UBEN"}


@pytest.mark.parametrize(
    ("text", "why"),
    [
        ("snooze forever", "didn't understand `forever`"),
        ("snooze 6 months", "didn't understand"),
        ("snooze 100d", "longer"),
        # Each piece is short; together they are longer than any date can be.
        ("snooze " + "999999w " * 200, "at most 90 days"),
        ("snooze 999999w", "at most 90 days"),
        # Digits in other scripts are not read as a length (nobody means "٣d" by accident).
        ("snooze ٣d", "didn't understand"),
        ("snooze ²d", "didn't understand"),
    ],
)
async def test_a_snooze_that_cannot_be_read_is_explained_and_not_set(
    app: RunningApp, caplog: pytest.LogCaptureFixture, text: str, why: str
) -> None:
    reply = await reply_to(app, text, user="UANNA")

    assert why in reply
    assert failures(caplog) == []
    assert "Usage: `/whoelse snooze 30m`" in reply
    async with session_scope(app.context.sessions) as session:
        assert await snoozed_users(session, workspace_id=TEAM_ID, now=utcnow()) == set()


async def test_stats_start_friendly_and_count_a_posted_nudge(app: RunningApp, fake_slack: FakeSlack) -> None:
    assert await reply_to(app, "stats", user="UANNA") == (
        "No nudges in <#CSALES> in the last 30 days yet, so there's nothing to count. Nudges come when a watched "
        "deal or ticket reaches a key moment (`/whoelse watch deals`), or when someone runs "
        "`/whoelse nudge &lt;topic&gt;`."
    )

    await reply_to(app, "nudge Beta launch", user="UANNA")
    await eventually(lambda: len(fake_slack.messages(CHANNEL)) == 1)

    async def counted() -> bool:
        return (await reply_to(app, "stats", user="UBEN")).startswith(
            "Stats for <#CSALES> — last 7 days: 1 nudge, 0 answered; last 30 days: 1 nudge, 0 answered."
        )

    # Delivery records the post just after Slack accepts it.
    await eventually(counted)


HELP = """*whoelse* asks the two questions that keep teams in the loop:
• `/whoelse help` — this list of what whoelse can do
• `/whoelse nudge &lt;topic&gt;` — ask this channel who else needs to know about a topic, and what else we can help with
• `/whoelse watch deals|tickets` — turn posts in this channel by your CRM (deals) or helpdesk (tickets) into nudges
• `/whoelse unwatch deals|tickets` — stop turning this channel's deal or ticket posts into nudges
• `/whoelse stats` — how this channel answered its nudges in the last 7 and 30 days
• `/whoelse snooze &lt;30m|4h|2d|1w&gt;|off` — no pings or reminder DMs for a while (up to 90 days); `off` ends it early
• `/whoelse elephant now|weekly|mode|close|history|off` — anonymous elephant-in-the-room polls, once or every week \
(`/whoelse elephant` alone says more)
• `/whoelse roundtable set|cancel` — a recurring cross-functional round-table for this channel \
(`/whoelse roundtable` alone shows it)
• `/whoelse settings` — time zone, quiet hours, hourly cap and nudge moments (admins)
• `/whoelse connect &lt;source&gt;` — connect this workspace's CRM or helpdesk \
(generic, hubspot, jira, salesforce, zendesk) to nudge on its events (admins)
• `/whoelse connections` — the CRMs and helpdesks connected here, their last event and last refused delivery (admins)
• `/whoelse disconnect &lt;source&gt;` — remove a connected CRM or helpdesk; its webhook address stops working \
(admins)
• `/whoelse status` — scheduler and delivery health (admins)"""


@pytest.mark.parametrize("text", ["help", "", " HELP "])
async def test_help_lists_what_people_need_first_with_how_to_type_each_command(app: RunningApp, text: str) -> None:
    assert await reply_to(app, text, user="UANNA") == HELP


async def test_an_unknown_subcommand_is_named_above_the_help(app: RunningApp) -> None:
    assert await reply_to(app, "dance", user="UANNA") == f"I don't know the command `dance`.\n\n{HELP}"


@pytest.mark.parametrize(
    ("text", "named", "then"),
    [
        ("help me", "I don't know `me` after `/whoelse help`.", HELP),
        (
            "stats 90d",
            "I don't know `90d` after `/whoelse stats`.",
            "Usage: `/whoelse stats` — how this channel answered its nudges in the last 7 and 30 days.",
        ),
        (
            "status everything",
            "I don't know `everything` after `/whoelse status`.",
            "Usage: `/whoelse status` — scheduler and delivery health (admins).",
        ),
        (
            "settings timezone",
            "I don't know `timezone` after `/whoelse settings`.",
            "Usage: `/whoelse settings` — time zone, quiet hours, hourly cap and nudge moments (admins).",
        ),
        ("elephant sometimes", "I don't know `sometimes` after `/whoelse elephant`.", "• `/whoelse elephant off`"),
        ("elephant off now", "I don't know `now` after `/whoelse elephant off`.", "• `/whoelse elephant off`"),
        ("roundtable weekly", "I don't know `weekly` after `/whoelse roundtable`.", "• `/whoelse roundtable set`"),
        ("roundtable set x", "I don't know `x` after `/whoelse roundtable set`.", "• `/whoelse roundtable set`"),
        (
            "roundtable cancel all",
            "I don't know `all` after `/whoelse roundtable cancel`.",
            "• `/whoelse roundtable cancel`",
        ),
        ("snooze forever", "I didn't understand `forever` as a length of time.", "Usage: `/whoelse snooze 30m`"),
    ],
)
async def test_words_a_subcommand_does_not_take_are_named_with_the_right_syntax_and_nothing_happens(
    app: RunningApp, fake_slack: FakeSlack, text: str, named: str, then: str
) -> None:
    reply = await reply_to(app, text, user="UANNA")

    assert reply.startswith(f"{named}\n")
    assert then in reply
    assert fake_slack.views_opened == []
    async with session_scope(app.context.sessions) as session:
        assert await session.scalar(select(func.count()).select_from(OutboxMessage)) == 0


async def test_a_request_with_a_bad_signature_is_refused_and_changes_nothing(
    app: RunningApp, fake_slack: FakeSlack
) -> None:
    for text in ("watch deals", "nudge forged", "snooze 1w"):
        body = urlencode(command_form(text, user="UANNA")).encode()
        headers = {"Content-Type": "application/x-www-form-urlencoded", **slack_headers(body, secret="not-ours")}

        response = await app.post("/slack/events", body, headers)

        assert response.status_code == 401
    async with session_scope(app.context.sessions) as session:
        assert await session.scalar(select(func.count()).select_from(ChannelWatch)) == 0
        assert await session.scalar(select(func.count()).select_from(OutboxMessage)) == 0
        assert await snoozed_users(session, workspace_id=TEAM_ID, now=utcnow()) == set()
    assert fake_slack.calls_to("chat.postMessage") == []
