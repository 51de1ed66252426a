"""The round-table on Teams, through the real app: shown and cancelled by typing to whoelse, reminded in the channel
with RSVP buttons that answer in place, and debriefed from a notes dialog; only from the round-table's own channel."""

from __future__ import annotations

import json
from datetime import time
from typing import Any

from sqlalchemy import select

from habits.form_origin import NOT_YOUR_FORM
from habits.roundtables.form import (
    CADENCE,
    GROUPS,
    INVITEES,
    NOTES,
    REMINDERS,
    TIME,
    TIMEZONE,
    WEEKDAY,
    RoundTablePlan,
)
from habits.roundtables.meetings import set_up
from habits.roundtables.messages import (
    CANCEL_BUTTON,
    CHANGE_BUTTON,
    COMING_BUTTON,
    NOT_COMING_BUTTON,
    NOTES_BUTTON,
)
from models.db import session_scope
from models.roundtables import RoundTable, RoundTableRsvp
from models.workspaces import STEERING_ADMINS, Workspace
from scheduler.roundtable_jobs import remind, reminder_jobs
from tests.handlers.test_elephant_command import Clock
from tests.teams.activities import CHANNEL, OTHER_TENANT, TENANT, card_action, dialog_fetch, dialog_submit
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


async def test_the_round_table_is_shown_and_cancelled_by_typing_to_whoelse(tenant: Teams, clock: Clock) -> None:
    assert "no round-table yet" in await tenant.type("roundtable")
    await set_up_roundtable(tenant, clock)

    shown = await tenant.type("roundtable")
    assert "cross-functional round-table" in shown and "Europe/Berlin" in shown
    # Who is invited is read from Teams (job titles): nobody from marketing is.
    assert "Nobody from" in shown and "marketing" in shown

    assert "Cancelled this channel's round-table" in await tenant.type("roundtable cancel")
    assert "no round-table yet" in await tenant.type("roundtable")
    assert "no round-table to cancel" in await click(tenant, CANCEL_BUTTON, "1", "Jane Doe")


async def test_a_refused_cancel_is_answered_in_words_teams_shows_as_typed(tenant: Teams, clock: Clock) -> None:
    await set_up_roundtable(tenant, clock)
    async with session_scope(tenant.app.context.sessions) as session:
        workspace = await session.get(Workspace, TENANT)
        assert workspace is not None
        workspace.poll_steering = STEERING_ADMINS

    refused = await click(tenant, CANCEL_BUTTON, "1", "Omar Haddad")

    assert refused == (
        "Sorry, in this workspace only workspace admins and whoever set it up can set up, change or cancel this "
        "channel's round-table. Ask one of them, or an admin can change who may in settings."
    )


async def test_a_set_up_form_opened_where_teams_does_not_say_the_zone_suggests_the_default_one(
    tenant: Teams,
) -> None:
    form = await open_setup(tenant, "Jane Doe", zone=None)

    zone = element(form, TIMEZONE)
    assert zone["value"] == "UTC"
    assert all("your time zone" not in choice["title"] for choice in zone["choices"])


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


def element(card: dict[str, Any], input_id: str) -> dict[str, Any]:
    found: dict[str, Any] = next(item for item in card["body"] if item.get("id") == input_id)
    return found


def shown_under(card: dict[str, Any], input_id: str) -> str:
    """The text right under a field: where a dialog shown again says what to fix."""
    body = card["body"]
    position = next(index for index, item in enumerate(body) if item.get("id") == input_id)
    after = body[position + 1] if position + 1 < len(body) else {}
    return str(after.get("text", "")) if after.get("type") == "TextBlock" else ""


async def open_setup(tenant: Teams, person: str, *, zone: str | None = "America/New_York") -> dict[str, Any]:
    """Clicks the button that opens the set-up form, from a device in `zone`; returns the form's card."""
    fetch = by(person, dialog_fetch(CHANGE_BUTTON, {"value": ""}, tenant.connector.service_url))
    if zone is not None:
        fetch["localTimezone"] = zone
    return dialog_card(await send(tenant.app, tenant.login, tenant.connector, fetch))


async def test_a_round_table_is_set_up_and_changed_in_a_teams_dialog_with_pickers(tenant: Teams) -> None:
    for person, (aad, _bot_framework_id) in PEOPLE.items():
        tenant.connector.add_member(aad, person, jobTitle=TITLES[person])
    jane, omar, lena = (aad for aad, _ in PEOPLE.values())

    # Typed, the command answers with the button that opens the form (Teams opens forms only from buttons).
    reply = await tenant.type("roundtable set")
    assert '"task/fetch"' in reply and CHANGE_BUTTON in reply
    form = await open_setup(tenant, "Jane Doe")

    assert element(form, TIME)["type"] == "Input.Time"
    zone = element(form, TIMEZONE)
    assert zone["choices"][0] == {"title": "America / New York (your time zone)", "value": "America/New_York"}
    assert zone["value"] == "America/New_York"
    invitees = element(form, INVITEES)
    assert (invitees["isMultiSelect"], invitees["choices.data"]["dataset"]) == (True, "graph.microsoft.com/users")
    reminders = element(form, REMINDERS)
    assert (reminders["isMultiSelect"], reminders["style"], reminders["value"]) == (True, "expanded", f"{DAY},15")
    assert all(item.get("id") != GROUPS for item in form["body"]), "Teams has no user groups to invite"

    # Sent without a time: the same form comes back, as filled in, with what to fix under the time.
    picked = {CADENCE: "weekly", WEEKDAY: "1", TIMEZONE: "America/New_York", INVITEES: f"{jane},{omar}"}
    again = await send(
        tenant.app,
        tenant.login,
        tenant.connector,
        by("Jane Doe", dialog_submit(filled(form, **picked, **{REMINDERS: "15"}), tenant.connector.service_url)),
    )
    shown_again = dialog_card(again)
    assert shown_under(shown_again, TIME) == "Please pick the time the round-table starts."
    assert element(shown_again, INVITEES)["value"] == f"{jane},{omar}"
    assert element(shown_again, REMINDERS)["value"] == "15"
    async with tenant.app.context.sessions() as session:
        assert await session.scalar(select(RoundTable)) is None

    # Someone else cannot send Jane's form, nor can she from another channel.
    assert await tenant.submit(filled(form, **picked, **{TIME: "14:45"}), "Omar Haddad") == NOT_YOUR_FORM
    elsewhere = await tenant.submit(
        filled(form, **picked, **{TIME: "14:45"}), "Jane Doe", conversation=OTHER_CONVERSATION
    )
    assert elsewhere == NOT_YOUR_FORM
    saved = await tenant.submit(filled(form, **picked, **{TIME: "14:45", REMINDERS: f"{DAY},15"}), "Jane Doe")
    assert "Saved" in saved
    async with tenant.app.context.sessions() as session:
        roundtable = await session.scalar(select(RoundTable))
    assert roundtable is not None
    assert (roundtable.weekday, roundtable.time_of_day, roundtable.timezone) == (
        1,
        time(14, 45),
        "America/New_York",
    )
    assert (roundtable.invitees, roundtable.reminder_minutes) == ([jane, omar], [DAY, 15])
    await tenant.app.context.delivery.drain()
    assert tenant.posted("set up this channel's cross-functional round-table")

    # The round-table's Change button opens the same form, showing the round-table as it stands, invitees by name.
    overview = await tenant.type("roundtable", "Lena Park")
    assert "every Tuesday at 14:45 (America/New_York)" in overview and CHANGE_BUTTON in overview
    changing = await open_setup(tenant, "Lena Park", zone=None)
    assert element(changing, TIME)["value"] == "14:45"
    assert element(changing, TIMEZONE)["value"] == "America/New_York"
    assert element(changing, INVITEES)["choices"] == [
        {"title": "Jane Doe", "value": jane},
        {"title": "Omar Haddad", "value": omar},
    ]
    changed = {**picked, TIME: "09:30", INVITEES: f"{jane},{omar},{lena}", REMINDERS: "60"}
    assert "Saved" in await tenant.submit(filled(changing, **changed), "Lena Park")
    async with tenant.app.context.sessions() as session:
        roundtable = await session.scalar(select(RoundTable))
    assert roundtable is not None
    assert (roundtable.time_of_day, roundtable.invitees, roundtable.reminder_minutes) == (
        time(9, 30),
        [jane, omar, lena],
        [60],
    )
