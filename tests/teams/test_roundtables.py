"""The round-table on Teams, through the real app: shown and cancelled by typing to whoelse, reminded in the channel
with RSVP buttons that answer in place, and debriefed from a notes dialog; only from the round-table's own channel."""

from __future__ import annotations

import json
from datetime import time
from typing import Any

from sqlalchemy import select

from habits.form_origin import NOT_YOUR_FORM
from habits.roundtables.form import NOTES, RoundTablePlan
from habits.roundtables.meetings import set_up
from habits.roundtables.messages import CANCEL_BUTTON, COMING_BUTTON, NOT_COMING_BUTTON, NOTES_BUTTON
from models.db import session_scope
from models.roundtables import RoundTable, RoundTableRsvp
from scheduler.roundtable_jobs import remind, reminder_jobs
from tests.handlers.test_elephant_command import Clock
from tests.teams.activities import CHANNEL, OTHER_TENANT, TENANT, card_action, dialog_fetch
from tests.teams.scenario import (
    OTHER_CONVERSATION,
    PEOPLE,
    Teams,
    action_text,
    button_value,
    by,
    cards,
    closing_text,
    dialog_card,
    filled,
    in_conversation,
    send,
)

DAY = 24 * 60
GONE = "I can't find that round-table meeting any more."
TITLES = {"Jane Doe": "Account Executive, Sales", "Omar Haddad": "Staff Engineer", "Lena Park": "Support Lead"}


async def set_up_roundtable(tenant: Teams, clock: Clock) -> int:
    """A weekly round-table in the channel, inviting the three people (set up as Slack's form would)."""
    for person, (aad, _bot_framework_id) in PEOPLE.items():
        tenant.connector.add_member(aad, person, jobTitle=TITLES[person])
    plan = RoundTablePlan(
        cadence="weekly",
        weekday=1,
        week_of_month=None,
        at=time(15, 0),
        timezone="Europe/Berlin",
        invitees=tuple(aad for aad, _ in PEOPLE.values()),
        group_ids=(),
        reminder_minutes=(DAY,),
    )
    async with session_scope(tenant.app.context.sessions) as session:
        roundtable, _changed = await set_up(
            session,
            workspace_id=TENANT,
            channel_id=CHANNEL,
            user_id=PEOPLE["Jane Doe"][0],
            plan=plan,
            now=clock.now,
        )
        return roundtable.id


async def post_reminder(tenant: Teams, clock: Clock) -> dict[str, Any]:
    """The reminder a day before the first meeting, as the scheduled job sends it; returns its card."""
    roundtable_id = await set_up_roundtable(tenant, clock)
    async with session_scope(tenant.app.context.sessions) as session:
        roundtable = await session.get(RoundTable, roundtable_id)
        assert roundtable is not None
        [spec] = reminder_jobs(roundtable)
    fires = spec.trigger.get_next_fire_time(None, clock.now)
    clock.advance(seconds=(fires - clock.now).total_seconds())
    async with session_scope(tenant.app.context.sessions) as session:
        result = await remind(session, roundtable_id=roundtable_id, offset_minutes=DAY, now=clock.now)
    assert result.outcome == "posted"
    await tenant.app.context.delivery.drain()
    [reminder] = tenant.posted("Round-table in 1 day")
    return reminder


async def click(tenant: Teams, verb: str, value: str, person: str, *, in_tenant: str = TENANT) -> str:
    activity = by(person, card_action(verb, {"value": value}, tenant.connector.service_url, tenant=in_tenant))
    return action_text(await send(tenant.app, tenant.login, tenant.connector, activity))


async def answers(tenant: Teams) -> list[tuple[str, bool]]:
    async with tenant.app.context.sessions() as session:
        return [(row.user_id, row.attending) for row in await session.scalars(select(RoundTableRsvp))]


async def test_the_reminder_reaches_the_teams_channel_and_answers_update_it_in_place(
    tenant: Teams, clock: Clock
) -> None:
    reminder = await post_reminder(tenant, clock)
    meeting_id = button_value(reminder, COMING_BUTTON)

    assert "coming" in await click(tenant, COMING_BUTTON, meeting_id, "Omar Haddad")
    assert "not able to make it" in await click(tenant, NOT_COMING_BUTTON, meeting_id, "Lena Park")
    await tenant.app.context.delivery.drain()

    updates = [card for sent, card in cards(tenant.connector) if sent.method == "PUT"]
    assert updates, "the reminder card is refreshed with the answers"
    latest = json.dumps(updates[-1], ensure_ascii=False)
    assert "1 coming, 1 can't make it" in latest
    assert "Omar Haddad" in latest and "Lena Park" in latest, "people are shown by their Teams names"
    assert sorted(await answers(tenant)) == sorted(
        [(PEOPLE["Omar Haddad"][0], True), (PEOPLE["Lena Park"][0], False)]
    )


async def test_notes_written_in_a_teams_dialog_become_the_debrief_in_the_channel(
    tenant: Teams, clock: Clock
) -> None:
    await post_reminder(tenant, clock)
    [agenda] = tenant.posted("Agenda for the round-table")
    fetch = by(
        "Lena Park",
        dialog_fetch(NOTES_BUTTON, {"value": button_value(agenda, NOTES_BUTTON)}, tenant.connector.service_url),
    )
    form = dialog_card(await send(tenant.app, tenant.login, tenant.connector, fetch))

    decided = "Sales shares deal context before handoff; support joins the Tuesday demo"
    assert "posted" in await tenant.submit(filled(form, **{NOTES: decided}), "Lena Park")
    assert await tenant.submit(filled(form, **{NOTES: decided}), "Omar Haddad") == NOT_YOUR_FORM
    await tenant.app.context.delivery.drain()

    [debrief] = tenant.posted("Round-table debrief")
    assert decided in json.dumps(debrief, ensure_ascii=False)


async def test_the_round_table_is_shown_and_cancelled_by_typing_to_whoelse_and_set_up_is_left_to_slack(
    tenant: Teams, clock: Clock
) -> None:
    assert "no round-table yet" in await tenant.type("roundtable")
    assert "coming to Teams" in await tenant.type("roundtable set")
    await set_up_roundtable(tenant, clock)

    shown = await tenant.type("roundtable")
    assert "cross-functional round-table" in shown and "Europe/Berlin" in shown
    # Who is invited is read from Teams (job titles): nobody from marketing is.
    assert "Nobody from" in shown and "marketing" in shown

    assert "Cancelled this channel's round-table" in await tenant.type("roundtable cancel")
    assert "no round-table yet" in await tenant.type("roundtable")
    assert "no round-table to cancel" in await click(tenant, CANCEL_BUTTON, "1", "Jane Doe")


async def test_a_meeting_clicked_in_another_channel_or_tenant_is_refused(tenant: Teams, clock: Clock) -> None:
    reminder = await post_reminder(tenant, clock)
    meeting_id = button_value(reminder, COMING_BUTTON)

    elsewhere = in_conversation(
        OTHER_CONVERSATION,
        by("Omar Haddad", card_action(COMING_BUTTON, {"value": meeting_id}, tenant.connector.service_url)),
    )
    assert action_text(await send(tenant.app, tenant.login, tenant.connector, elsewhere)) == GONE
    assert await click(tenant, COMING_BUTTON, meeting_id, "Omar Haddad", in_tenant=OTHER_TENANT) == GONE
    assert await click(tenant, COMING_BUTTON, "not-a-meeting", "Omar Haddad") == GONE
    notes_elsewhere = in_conversation(
        OTHER_CONVERSATION, dialog_fetch(NOTES_BUTTON, {"value": meeting_id}, tenant.connector.service_url)
    )
    assert closing_text(await send(tenant.app, tenant.login, tenant.connector, notes_elsewhere)) == GONE
    assert await answers(tenant) == []
