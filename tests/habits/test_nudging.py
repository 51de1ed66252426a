"""The who-else habit over the database: which events become nudges, where they go, when, and how often."""

from __future__ import annotations

import asyncio
import json
import re
from datetime import UTC, datetime, time, timedelta
from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.slack.blocks import render_message
from habits.events import BusinessEvent
from habits.messages import WORD_JOINER
from habits.nudge_message import WHAT_ELSE, WHO_ELSE
from habits.nudging import NudgeResult, facts, nudge_by_hand
from models.db import session_scope
from models.events import ReceivedEvent
from models.nudges import Nudge
from models.outbox import OutboxMessage
from models.people import snooze
from models.watches import WatchKind, watch_channel
from models.workspaces import get_or_create_workspace
from tests.habits.receiving import receive_event

WORKSPACE = "T0001"
DEALS = "CDEALS"
SUPPORT = "CSUPPORT"
# Noon in New York, 18:00 in Berlin: awake in both.
NOON = datetime(2026, 11, 25, 17, 0, tzinfo=UTC)
ACME = "https://crm.example.com/deals/1"

Sessions = async_sessionmaker[AsyncSession]


async def given_workspace(
    sessions: Sessions,
    *,
    timezone: str = "UTC",
    quiet: tuple[time, time] | None = None,
    cap: int = 6,
    watching: dict[str, WatchKind] | None = None,
) -> None:
    async with session_scope(sessions) as session:
        workspace = await get_or_create_workspace(session, workspace_id=WORKSPACE)
        workspace.timezone = timezone
        workspace.quiet_start, workspace.quiet_end = quiet or (None, None)
        workspace.hourly_cap = cap
        chosen: dict[str, WatchKind] = watching if watching is not None else {DEALS: "deals"}
        for channel, kind in chosen.items():
            await watch_channel(session, workspace_id=WORKSPACE, channel_id=channel, kind=kind, user_id="UADMIN")


def deal(
    event_id: str, event: str = "stage_changed", *, stage: str | None = "Negotiation", **extra: Any
) -> BusinessEvent:
    fields: dict[str, Any] = {
        "source": "webhook",
        "external_id": event_id,
        "kind": "deal",
        "event": event,
        "subject_id": ACME,
        "title": "Acme renewal",
        "url": ACME,
        "account": "Acme",
        "stage": stage if event == "stage_changed" else None,
    }
    return BusinessEvent(**(fields | extra))


def ticket(event_id: str, event: str = "escalated", **extra: Any) -> BusinessEvent:
    fields: dict[str, Any] = {
        "source": "webhook",
        "external_id": event_id,
        "kind": "ticket",
        "event": event,
        "subject_id": "https://help.example.com/tickets/4521",
        "title": "Printer on fire",
    }
    return BusinessEvent(**(fields | extra))


async def receive(sessions: Sessions, event: BusinessEvent, now: datetime = NOON) -> NudgeResult:
    async with session_scope(sessions) as session:
        return await receive_event(session, workspace_id=WORKSPACE, event=event, now=now)


async def outbox(sessions: Sessions) -> list[OutboxMessage]:
    async with sessions() as session:
        return list(await session.scalars(select(OutboxMessage).order_by(OutboxMessage.id)))


async def nudges(sessions: Sessions) -> list[Nudge]:
    async with sessions() as session:
        return list(await session.scalars(select(Nudge).order_by(Nudge.id)))


async def events(sessions: Sessions) -> list[ReceivedEvent]:
    async with sessions() as session:
        return list(await session.scalars(select(ReceivedEvent).order_by(ReceivedEvent.id)))


def everything_said(row: OutboxMessage) -> str:
    message = row.neutral_message()
    return "\n".join([message.text, *(str(part.model_dump()) for part in message.parts)])


async def test_a_critical_juncture_asks_the_watching_channel_both_questions(sessions: Sessions) -> None:
    await given_workspace(sessions)

    result = await receive(sessions, deal("evt-1"))

    assert result.outcome == "nudged"
    [row] = await outbox(sessions)
    assert row.channel_id == DEALS
    assert row.not_before == NOON
    said = everything_said(row)
    assert "Acme renewal" in said and "Negotiation" in said
    assert WHO_ELSE in said and WHAT_ELSE in said
    [recorded] = await events(sessions)
    assert (recorded.id, recorded.outcome) == (result.event_id, "nudged")


async def test_the_events_own_channel_wins_over_the_watching_one(sessions: Sessions) -> None:
    await given_workspace(sessions)

    await receive(sessions, deal("evt-1", channel="CEMEA"))

    [row] = await outbox(sessions)
    assert row.channel_id == "CEMEA"


async def test_tickets_go_to_the_channel_watching_tickets(sessions: Sessions) -> None:
    await given_workspace(sessions, watching={DEALS: "deals", SUPPORT: "tickets"})

    await receive(sessions, ticket("evt-1"))

    [row] = await outbox(sessions)
    assert row.channel_id == SUPPORT
    assert "Printer on fire" in everything_said(row)


async def test_routine_events_are_recorded_but_nobody_is_nudged(sessions: Sessions) -> None:
    await given_workspace(sessions)

    result = await receive(sessions, deal("evt-1", "note_added"))

    assert result.outcome == "not_a_juncture"
    assert [event.outcome for event in await events(sessions)] == ["not_a_juncture"]
    assert await outbox(sessions) == []


async def test_without_a_channel_the_event_is_recorded_as_having_nowhere_to_go(sessions: Sessions) -> None:
    await given_workspace(sessions, watching={})

    result = await receive(sessions, deal("evt-1"))

    assert result.outcome == "no_channel"
    assert [event.outcome for event in await events(sessions)] == ["no_channel"]
    assert await outbox(sessions) == []


async def test_receiving_the_same_event_again_changes_nothing(sessions: Sessions) -> None:
    await given_workspace(sessions)
    first = await receive(sessions, deal("evt-1"))

    again = await receive(sessions, deal("evt-1"), now=NOON + timedelta(minutes=5))

    assert again.outcome == "duplicate_event"
    assert again.event_id == first.event_id
    assert len(await events(sessions)) == 1
    assert len(await outbox(sessions)) == 1


async def test_one_nudge_per_deal_per_juncture_even_from_another_event_or_channel(sessions: Sessions) -> None:
    await given_workspace(sessions)
    first = await receive(sessions, deal("evt-1"))

    resent = await receive(sessions, deal("evt-2"))
    elsewhere = await receive(sessions, deal("evt-3", channel="CEMEA"))

    assert (resent.outcome, resent.nudge_id) == ("duplicate_juncture", first.nudge_id)
    assert (elsewhere.outcome, elsewhere.nudge_id) == ("duplicate_juncture", first.nudge_id)
    assert len(await outbox(sessions)) == 1
    assert len(await events(sessions)) == 3


async def test_two_events_about_the_same_moment_arriving_together_give_one_nudge(sessions: Sessions) -> None:
    await given_workspace(sessions)

    results = await asyncio.gather(receive(sessions, deal("evt-1")), receive(sessions, deal("evt-2")))

    assert sorted(result.outcome for result in results) == ["duplicate_juncture", "nudged"]
    assert len(await outbox(sessions)) == 1


async def test_the_same_moment_sent_to_two_channels_at_once_gives_one_nudge(sessions: Sessions) -> None:
    await given_workspace(sessions, watching={DEALS: "deals", SUPPORT: "deals"})

    results = await asyncio.gather(
        receive(sessions, deal("evt-1", channel=DEALS)), receive(sessions, deal("evt-2", channel=SUPPORT))
    )

    assert sorted(result.outcome for result in results) == ["duplicate_juncture", "nudged"]
    assert len(await nudges(sessions)) == 1
    assert len(await outbox(sessions)) == 1


async def test_later_junctures_of_a_deal_reply_in_the_first_nudges_thread(sessions: Sessions) -> None:
    await given_workspace(sessions)
    await receive(sessions, deal("evt-1", "created"))

    await receive(sessions, deal("evt-2", stage="Negotiation"))
    await receive(sessions, deal("evt-3", "closed_won"))

    first, negotiation, won = await outbox(sessions)
    assert first.thread_parent_id is None
    assert negotiation.thread_parent_id == first.id
    assert won.thread_parent_id == first.id
    assert {nudge.thread_outbox_id for nudge in await nudges(sessions)} == {first.id}


async def test_other_deals_get_their_own_thread(sessions: Sessions) -> None:
    await given_workspace(sessions)
    await receive(sessions, deal("evt-1"))

    await receive(sessions, deal("evt-2", subject_id="https://crm.example.com/deals/2", title="Globex"))

    _acme, globex = await outbox(sessions)
    assert globex.thread_parent_id is None
    assert globex.thread_ts is None


async def test_a_nudge_about_a_bots_post_replies_under_that_post(sessions: Sessions) -> None:
    await given_workspace(sessions)

    await receive(
        sessions, deal("CDEALS:1764000000.000100", source="slack_message", thread_ts="1764000000.000100")
    )

    [row] = await outbox(sessions)
    assert row.thread_ts == "1764000000.000100"
    assert row.thread_parent_id is None


async def test_after_replying_to_a_bots_post_later_nudges_stay_in_that_thread(sessions: Sessions) -> None:
    await given_workspace(sessions)
    await receive(
        sessions, deal("CDEALS:1764000000.000100", source="slack_message", thread_ts="1764000000.000100")
    )

    await receive(sessions, deal("evt-2", "closed_won"))

    _first, won = await outbox(sessions)
    assert won.thread_ts == "1764000000.000100"
    assert won.thread_parent_id is None


async def test_in_quiet_hours_the_nudge_is_held_until_they_end_in_the_workspaces_zone(sessions: Sessions) -> None:
    await given_workspace(sessions, timezone="America/New_York", quiet=(time(19, 0), time(8, 0)))
    # 23:30 on 24 November in New York.
    late_evening = datetime(2026, 11, 25, 4, 30, tzinfo=UTC)

    result = await receive(sessions, deal("evt-1"), now=late_evening)

    eight_next_morning = datetime(2026, 11, 25, 13, 0, tzinfo=UTC)
    assert (result.outcome, result.deliver_after) == ("held", eight_next_morning)
    [row] = await outbox(sessions)
    assert row.not_before == eight_next_morning


async def test_over_the_hourly_cap_a_nudge_is_recorded_as_suppressed_not_posted(sessions: Sessions) -> None:
    await given_workspace(sessions, cap=2)
    outcomes = [
        (
            await receive(sessions, deal(f"evt-{n}", subject_id=f"deal-{n}"), now=NOON + timedelta(minutes=n))
        ).outcome
        for n in range(3)
    ]

    assert outcomes == ["nudged", "nudged", "capped"]
    assert len(await outbox(sessions)) == 2
    capped = (await nudges(sessions))[2]
    assert (capped.status, capped.suppressed_reason, capped.outbox_id) == ("suppressed", "hourly_cap", None)

    an_hour_after_the_first = NOON + timedelta(hours=1)
    later = await receive(sessions, deal("evt-9", subject_id="deal-9"), now=an_hour_after_the_first)
    assert later.outcome == "nudged"


async def test_the_cap_is_per_channel(sessions: Sessions) -> None:
    await given_workspace(sessions, cap=1)

    first = await receive(sessions, deal("evt-1", subject_id="deal-1"))
    other_channel = await receive(sessions, deal("evt-2", subject_id="deal-2", channel="CEMEA"))

    assert (first.outcome, other_channel.outcome) == ("nudged", "nudged")


async def test_nudges_held_overnight_count_against_the_cap_of_the_morning(sessions: Sessions) -> None:
    await given_workspace(sessions, quiet=(time(19, 0), time(8, 0)), cap=2)
    night = datetime(2026, 11, 25, 22, 0, tzinfo=UTC)

    outcomes = [
        (await receive(sessions, deal(f"evt-{n}", subject_id=f"deal-{n}"), now=night + timedelta(hours=n))).outcome
        for n in range(3)
    ]

    assert outcomes == ["held", "held", "capped"]


async def test_asking_by_hand_goes_out_now_and_never_uses_up_the_cap(sessions: Sessions) -> None:
    await given_workspace(sessions, quiet=(time(19, 0), time(8, 0)), cap=1)
    night = datetime(2026, 11, 25, 23, 0, tzinfo=UTC)

    async with session_scope(sessions) as session:
        await nudge_by_hand(
            session, workspace_id=WORKSPACE, channel_id=DEALS, user_id="UJANE", text="Acme pricing", now=night
        )
    morning = await receive(sessions, deal("evt-1"), now=night + timedelta(hours=10))

    by_hand, automatic = await outbox(sessions)
    assert by_hand.not_before == night
    assert "@{UJANE}" in everything_said(by_hand)
    assert morning.outcome == "nudged"
    assert automatic.channel_id == DEALS


async def test_the_owner_is_pinged_unless_they_snoozed_whoelse(sessions: Sessions) -> None:
    await given_workspace(sessions)
    async with session_scope(sessions) as session:
        await snooze(session, workspace_id=WORKSPACE, user_id="USNOOZE", until=NOON + timedelta(days=7))

    await receive(sessions, deal("evt-1", owner="UJANE"))
    await receive(sessions, deal("evt-2", "closed_won", owner="USNOOZE"))
    await receive(sessions, deal("evt-3", "created", subject_id="deal-3", owner="sam@example.com"))

    jane, snoozed, by_email = await outbox(sessions)
    assert "@{UJANE}" in everything_said(jane)
    assert "USNOOZE" in everything_said(snoozed) and "@{USNOOZE}" not in everything_said(snoozed)
    assert "sam@example.com" in everything_said(by_email)


async def test_text_from_the_sender_is_shown_never_interpreted(sessions: Sessions) -> None:
    await given_workspace(sessions)

    await receive(
        sessions,
        deal("evt-1", title="<!channel> Acme @{UBOSS}", account="<https://evil.example.com|Acme>", url=None),
    )

    said = everything_said((await outbox(sessions))[0])
    assert "<!channel>" not in said and "<https://evil" not in said
    assert "@{UBOSS}" not in said
    assert "Acme" in said


async def test_a_senders_text_never_reads_as_a_whoelse_command(sessions: Sessions) -> None:
    await given_workspace(sessions)

    await receive(sessions, deal("evt-1", title="Acme /{snooze off}"))

    row = (await outbox(sessions))[0]
    text, blocks = render_message(row.neutral_message())
    assert "/whoelse snooze off" not in text + json.dumps(blocks)
    assert f"Acme /{WORD_JOINER}{{snooze off}}" in everything_said(row)


async def test_a_senders_at_here_or_at_channel_is_shown_but_is_not_the_word_slack_pings_everyone_for(
    sessions: Sessions,
) -> None:
    await given_workspace(sessions)

    # A CRM bot's "<!here>" reaches the nudge as the words "@here" (see handlers/slack/events.py).
    await receive(sessions, deal("evt-1", title="Acme @here @Channel", account="@everyone"))

    said = everything_said((await outbox(sessions))[0])
    assert re.search(r"@(here|channel|everyone)\b", said, re.IGNORECASE) is None
    assert f"Acme @{WORD_JOINER}here @{WORD_JOINER}Channel" in said


@pytest.mark.parametrize("url", ["javascript:alert(1)", "https://crm.example.com/a|b>"])
def test_only_plain_web_links_are_linked(url: str) -> None:
    assert ("Link", f"<{url}|Open in CRM>") not in facts(deal("evt-1", url=url), snoozed=set())
