"""The follow-through on Teams: outcomes recorded in the notes dialog (an owner from the people search, a due
date), the dialog shown again with what to fix, and *Mark done* for the owner only, in its own tenant."""

from __future__ import annotations

import json
from datetime import timedelta
from typing import Any

from sqlalchemy import select

from habits.roundtables.follow_up import DONE_BUTTON, reminder_moment
from habits.roundtables.messages import COMING_BUTTON, NOTES_BUTTON
from models.db import session_scope
from models.elephants import CLOSED, ElephantPoll, ElephantSubmission
from models.roundtable_outcomes import RoundTableActionItem
from models.roundtables import RoundTable, RoundTableMeeting
from scheduler.follow_up_jobs import remind_owners
from tests.handlers.test_elephant_command import Clock
from tests.teams.activities import CHANNEL, OTHER_TENANT, TENANT, card_action, dialog_fetch, dialog_submit
from tests.teams.scenario import (
    PEOPLE,
    Teams,
    action_text,
    button_value,
    by,
    cards,
    dialog_card,
    in_conversation,
    send,
)
from tests.teams.test_roundtables import click, post_reminder

REFUSED = "Only the owner of this action item can mark it done."


async def test_only_the_owner_marks_an_action_item_done_from_teams(tenant: Teams, clock: Clock) -> None:
    reminder = await post_reminder(tenant, clock)
    meeting_id = int(button_value(reminder, COMING_BUTTON))
    owner = PEOPLE["Omar Haddad"][0]
    async with session_scope(tenant.app.context.sessions) as session:
        item = RoundTableActionItem(
            workspace_id=TENANT,
            meeting_id=meeting_id,
            submission_id="5f0c6d0e-0000-4000-8000-000000000001",
            text="Add a context field to the handoff form",
            owner_id=owner,
            due_on=clock.now.date() + timedelta(days=3),
        )
        session.add(item)
        await session.flush()
        item_id = str(item.id)

    assert await click(tenant, DONE_BUTTON, item_id, "Lena Park") == REFUSED
    assert await click(tenant, DONE_BUTTON, item_id, "Omar Haddad", in_tenant=OTHER_TENANT) == REFUSED
    assert await click(tenant, DONE_BUTTON, "not-an-item", "Omar Haddad") == REFUSED
    async with session_scope(tenant.app.context.sessions) as session:
        assert (await session.scalar(select(RoundTableActionItem.done_at))) is None

    assert await click(tenant, DONE_BUTTON, item_id, "Omar Haddad") == "Thanks: marked done."
    assert await click(tenant, DONE_BUTTON, item_id, "Omar Haddad") == "This action item is already marked done."
    async with session_scope(tenant.app.context.sessions) as session:
        assert (await session.scalar(select(RoundTableActionItem.done_at))) is not None


async def meeting_with_a_poll_on_its_agenda(tenant: Teams, clock: Clock) -> str:
    """A round-table meeting, an hour over, whose agenda took up a poll that closed before it; its id."""
    await post_reminder(tenant, clock)
    [agenda] = tenant.posted("Agenda for the round-table")
    meeting_id = button_value(agenda, NOTES_BUTTON)
    async with session_scope(tenant.app.context.sessions) as session:
        meeting = await session.get(RoundTableMeeting, int(meeting_id))
        assert meeting is not None
        closed = meeting.starts_at - timedelta(hours=3)
        poll = ElephantPoll(
            workspace_id=TENANT,
            channel_id=CHANNEL,
            key="elephant:test:teams",
            phase=CLOSED,
            opened_at=closed - timedelta(days=2),
            voting_opens_at=closed - timedelta(days=1),
            closes_at=closed,
            closed_at=closed,
            participants=3,
            version=0,
        )
        session.add(poll)
        await session.flush()
        session.add(ElephantSubmission(workspace_id=TENANT, poll_id=poll.id, text="Handoffs", votes=2))
    clock.advance(seconds=(meeting.starts_at - clock.now).total_seconds() + 3600)
    return meeting_id


async def open_notes(tenant: Teams, meeting_id: str) -> tuple[dict[str, Any], str, dict[str, Any]]:
    """The notes dialog as Lena opens it: its card, the key of the elephant on it, and what its submit sends."""
    fetch = by("Lena Park", dialog_fetch(NOTES_BUTTON, {"value": meeting_id}, tenant.connector.service_url))
    form = dialog_card(await send(tenant.app, tenant.login, tenant.connector, fetch))
    [key] = [
        element["id"].split(":", 1)[1] for element in form["body"] if element.get("id", "").startswith("pain:")
    ]
    [submit] = form["actions"]
    return form, key, submit["data"]


async def send_notes(tenant: Teams, notes: dict[str, Any]) -> dict[str, Any]:
    """Sends the notes dialog as Lena filled it in; the dialog that comes back (mistakes to fix)."""
    activity = in_conversation(CHANNEL, by("Lena Park", dialog_submit(notes, tenant.connector.service_url)))
    return dialog_card(await send(tenant.app, tenant.login, tenant.connector, activity))


async def test_notes_with_an_action_item_missing_its_owner_come_back_with_what_to_fix(
    tenant: Teams, clock: Clock
) -> None:
    meeting_id = await meeting_with_a_poll_on_its_agenda(tenant, clock)
    form, key, data = await open_notes(tenant, meeting_id)
    ids = {element["id"]: element for element in form["body"] if "id" in element}
    assert ids[f"owner:{key}"]["choices.data"]["dataset"] == "graph.microsoft.com/users"

    half = {**data, f"action:{key}": "Add a context field", f"due:{key}": "2099-01-04"}
    again = await send_notes(tenant, half)
    assert "Please pick who owns this action item." in json.dumps(again)
    kept = {element["id"]: element for element in again["body"] if "id" in element}
    assert kept[f"action:{key}"]["value"] == "Add a context field"
    assert kept[f"due:{key}"]["value"] == "2099-01-04"

    owner = PEOPLE["Omar Haddad"][0]
    assert "posted" in await tenant.submit({**half, f"owner:{key}": owner}, "Lena Park")
    async with session_scope(tenant.app.context.sessions) as session:
        [item] = list(await session.scalars(select(RoundTableActionItem)))
    assert (item.owner_id, item.due_on.isoformat()) == (owner, "2099-01-04")


async def test_what_the_round_table_decided_shows_in_the_elephant_history_on_teams(
    tenant: Teams, clock: Clock
) -> None:
    meeting_id = await meeting_with_a_poll_on_its_agenda(tenant, clock)
    assert "decided:" not in await tenant.type("elephant history")
    _form, key, data = await open_notes(tenant, meeting_id)

    assert "posted" in await tenant.submit({**data, f"decision:{key}": "Sales writes the handoff"}, "Lena Park")

    assert "Handoffs — 2 votes — decided: Sales writes the handoff" in await tenant.type("elephant history")


async def test_the_owner_is_reminded_in_a_personal_chat_on_teams_and_marks_the_item_done_there(
    tenant: Teams, clock: Clock
) -> None:
    meeting_id = await meeting_with_a_poll_on_its_agenda(tenant, clock)
    _form, key, data = await open_notes(tenant, meeting_id)
    owner = PEOPLE["Omar Haddad"][0]
    due = clock.now.date() + timedelta(days=3)
    notes = {
        **data,
        f"action:{key}": "Add a context field to the handoff form",
        f"owner:{key}": owner,
        f"due:{key}": due.isoformat(),
    }
    assert "posted" in await tenant.submit(notes, "Lena Park")
    await tenant.app.context.delivery.drain()

    # Teams does not say where the owner is: the morning before, on the round-table's clock (Berlin).
    async with session_scope(tenant.app.context.sessions) as session:
        meeting = await session.get(RoundTableMeeting, int(meeting_id))
        assert meeting is not None
        roundtable = await session.get(RoundTable, meeting.roundtable_id)
        assert roundtable is not None and roundtable.timezone == "Europe/Berlin"
    moment = reminder_moment(due, roundtable.timezone)
    clock.advance(seconds=(moment - clock.now).total_seconds() - 60)
    assert await remind_owners(tenant.app.context) == 0
    clock.advance(seconds=60)
    assert await remind_owners(tenant.app.context) == 1
    assert await remind_owners(tenant.app.context) == 0
    await tenant.app.context.delivery.drain()

    [chat] = tenant.connector.created_conversations
    assert chat["members"] == [{"id": owner}] and chat["tenantId"] == TENANT
    [(sent, reminder)] = [
        (sent, card) for sent, card in cards(tenant.connector) if sent.conversation_id.startswith("a:")
    ]
    assert "Your round-table action item is due" in json.dumps(reminder)
    assert "Add a context field to the handoff form" in json.dumps(reminder)
    item_id = button_value(reminder, DONE_BUTTON)

    personal = sent.conversation_id

    async def click_in_chat(person: str) -> str:
        clicked = card_action(DONE_BUTTON, {"value": item_id}, tenant.connector.service_url)
        activity = in_conversation(personal, by(person, clicked))
        return action_text(await send(tenant.app, tenant.login, tenant.connector, activity))

    assert await click_in_chat("Lena Park") == REFUSED
    assert await click_in_chat("Omar Haddad") == "Thanks: marked done."
    await tenant.app.context.delivery.drain()
    [(_update, done)] = [
        (update, card)
        for update, card in cards(tenant.connector)
        if update.method == "PUT" and update.conversation_id == personal
    ]
    assert "Done:" in json.dumps(done) and DONE_BUTTON not in json.dumps(done)


async def test_a_second_action_item_missing_its_owner_comes_back_on_teams_with_both_rows_kept(
    tenant: Teams, clock: Clock
) -> None:
    meeting_id = await meeting_with_a_poll_on_its_agenda(tenant, clock)
    _form, key, data = await open_notes(tenant, meeting_id)
    owner = PEOPLE["Omar Haddad"][0]
    notes = {
        **data,
        f"action:{key}": "Add a context field",
        f"owner:{key}": owner,
        f"due:{key}": "2099-01-04",
        f"action:{key}:2": "Train support on it",
        f"due:{key}:2": "2099-01-05",
    }
    again = await send_notes(tenant, notes)

    body = again["body"]
    kept = {element["id"]: element for element in body if "id" in element}
    assert kept[f"action:{key}"]["value"] == "Add a context field"
    assert kept[f"owner:{key}"]["value"] == owner
    assert kept[f"action:{key}:2"]["value"] == "Train support on it"
    assert kept[f"due:{key}:2"]["value"] == "2099-01-05"
    # The mistake is shown right under the field it is about.
    position = next(index for index, element in enumerate(body) if element.get("id") == f"owner:{key}:2")
    assert "Please pick who owns this action item." in json.dumps(body[position : position + 2])

    second_owner = PEOPLE["Jane Doe"][0]
    assert "posted" in await tenant.submit({**notes, f"owner:{key}:2": second_owner}, "Lena Park")
    async with session_scope(tenant.app.context.sessions) as session:
        items = list(await session.scalars(select(RoundTableActionItem).order_by(RoundTableActionItem.position)))
    assert [(item.owner_id, item.position) for item in items] == [(owner, 1), (second_owner, 2)]
