"""A round-table's follow-through through the real app: the agenda picks up a poll that closed after the first
reminder, the notes record an outcome per elephant, the owner is reminded once and marks the item done, the next
agenda opens with what is still open, and the month ends with a digest in counts."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from sqlalchemy import select

from habits.roundtables.follow_up import DONE_BUTTON
from habits.roundtables.form import NOTES, NOTES_FORM
from habits.roundtables.messages import COMING_BUTTON, NOTES_BUTTON
from models.db import session_scope
from models.elephants import CLOSED, ElephantPoll, ElephantSubmission
from models.roundtable_outcomes import RoundTableActionItem
from models.roundtables import RoundTableMeeting
from scheduler.follow_up_jobs import post_digests, remind_owners
from scheduler.roundtable_jobs import job_source, send_reminder
from tests.conftest import TEAM_ID, RunningApp, eventually
from tests.fakes.slack_api import FakeSlack
from tests.handlers.test_roundtable_command import (
    CHANNEL,
    DAY,
    Clock,
    button_value,
    click,
    command,
    posted_with_key,
    set_up,
    shown,
    submit,
    text_input,
)
from tests.handlers.test_roundtable_command import app as app
from tests.handlers.test_roundtable_command import clock as clock

HANDOFFS = "Handoffs from sales arrive without context"
RELEASES = "Support hears about releases last"


async def close_a_poll(app: RunningApp, *, at: datetime, ranked: dict[str, int]) -> None:
    """An elephant poll of the channel closing at `at` with four people taking part."""
    async with session_scope(app.context.sessions) as session:
        poll = ElephantPoll(
            workspace_id=TEAM_ID,
            channel_id=CHANNEL,
            key=f"elephant:test:{uuid.uuid4()}",
            phase=CLOSED,
            opened_at=at - timedelta(days=2),
            voting_opens_at=at - timedelta(days=1),
            closes_at=at,
            closed_at=at,
            participants=4,
            version=0,
        )
        session.add(poll)
        await session.flush()
        for text, votes in ranked.items():
            session.add(ElephantSubmission(workspace_id=TEAM_ID, poll_id=poll.id, text=text, votes=votes))


async def send_due_reminder(app: RunningApp, clock: Clock, roundtable_id: int, offset_minutes: int) -> None:
    async with session_scope(app.context.sessions) as session:
        [spec] = [spec for spec in await job_source(session) if spec.kwargs["offset_minutes"] == offset_minutes]
    clock.move_to(spec.trigger.get_next_fire_time(None, clock()))
    await send_reminder(roundtable_id=roundtable_id, offset_minutes=offset_minutes)


def blocks_of(message: dict[str, Any]) -> str:
    return json.dumps(message["blocks"], ensure_ascii=False)


def current(fake_slack: FakeSlack, posted: dict[str, Any], channel: str = CHANNEL) -> dict[str, Any]:
    """A posted message as it reads now, after any edits."""
    [now] = [message for message in fake_slack.messages(channel) if message["ts"] == posted["ts"]]
    return now


def picked(block: str, user: str) -> dict[str, Any]:
    return {block: {block: {"type": "users_select", "selected_user": user}}}


def dated(block: str, day: date) -> dict[str, Any]:
    return {block: {block: {"type": "datepicker", "selected_date": day.isoformat()}}}


async def meeting_start(app: RunningApp, meeting_id: int) -> datetime:
    async with session_scope(app.context.sessions) as session:
        meeting = await session.get(RoundTableMeeting, meeting_id)
        assert meeting is not None
        return meeting.starts_at


async def first_meeting(app: RunningApp, fake_slack: FakeSlack, clock: Clock) -> int:
    """The round-table set up and its day-before reminder posted; the meeting's id."""
    roundtable_id = await set_up(app, fake_slack)
    await send_due_reminder(app, clock, roundtable_id, DAY)
    await eventually(lambda: len(posted_with_key(fake_slack, f":{DAY}")) == 1)
    [reminder] = posted_with_key(fake_slack, f":{DAY}")
    return int(button_value(reminder, COMING_BUTTON))


async def open_notes(app: RunningApp, fake_slack: FakeSlack, meeting_id: int) -> dict[str, Any]:
    """The notes form as Slack shows it to the note taker."""
    opened = len(fake_slack.views_opened)
    await click(app, NOTES_BUTTON, str(meeting_id), user="UCARL")
    await eventually(lambda: len(fake_slack.views_opened) > opened)
    form: dict[str, Any] = fake_slack.views_opened[-1]["view"]
    return form


async def test_a_poll_closing_after_the_first_reminder_reaches_the_agenda_and_its_outcome_is_followed_through(
    app: RunningApp, fake_slack: FakeSlack, clock: Clock
) -> None:
    roundtable_id = await set_up(app, fake_slack)
    await send_due_reminder(app, clock, roundtable_id, DAY)
    await eventually(lambda: bool(posted_with_key(fake_slack, ":agenda")))
    [agenda] = posted_with_key(fake_slack, ":agenda")
    assert "No poll results since the last meeting" in blocks_of(agenda)
    [reminder] = posted_with_key(fake_slack, f":{DAY}")
    meeting_id = int(button_value(reminder, COMING_BUTTON))
    await click(app, COMING_BUTTON, str(meeting_id), user="UANNA")
    await click(app, COMING_BUTTON, str(meeting_id), user="UBEN")

    # The week's poll closes after the day-before reminder, before the meeting.
    await close_a_poll(app, at=clock() + timedelta(hours=2), ranked={HANDOFFS: 3, RELEASES: 1})
    await send_due_reminder(app, clock, roundtable_id, 15)
    await eventually(lambda: HANDOFFS in blocks_of(current(fake_slack, agenda)))
    assert f"1. {HANDOFFS} (3 votes)" in blocks_of(current(fake_slack, agenda))
    assert len(posted_with_key(fake_slack, ":agenda")) == 1, "the agenda was brought up to date, not posted again"

    # After the meeting, the notes record what happened to each elephant.
    starts_at = await meeting_start(app, meeting_id)
    clock.move_to(starts_at + timedelta(hours=1))
    form = await open_notes(app, fake_slack, meeting_id)
    assert form["callback_id"] == NOTES_FORM
    fields = {block["block_id"]: block for block in form["blocks"] if block["type"] == "input"}
    [handoffs] = [block_id.split(":", 1)[1] for block_id, block in fields.items() if HANDOFFS in json.dumps(block)]
    assert fields[f"owner:{handoffs}"]["element"]["type"] == "users_select"
    assert fields[f"due:{handoffs}"]["element"]["type"] == "datepicker"

    due = starts_at.date() + timedelta(days=2)
    decided = "Sales adds the deal notes to every handoff ticket"
    values = {
        **text_input(NOTES, ""),
        **text_input(f"pain:{handoffs}", "Support starts every escalation from zero"),
        **text_input(f"decision:{handoffs}", decided),
        **text_input(f"action:{handoffs}", "Add a context field to the handoff form"),
        **dated(f"due:{handoffs}", due),
    }
    refused = await submit(app, form, values, user="UCARL")
    assert refused == {
        "response_action": "errors",
        "errors": {f"owner:{handoffs}": refused["errors"][f"owner:{handoffs}"]},
    }
    too_early = {
        **values,
        **picked(f"owner:{handoffs}", "UANNA"),
        **dated(f"due:{handoffs}", starts_at.date() - timedelta(days=3)),
    }
    assert list((await submit(app, form, too_early, user="UCARL"))["errors"]) == [f"due:{handoffs}"]
    assert await submit(app, form, {**values, **picked(f"owner:{handoffs}", "UANNA")}, user="UCARL") == {}

    await eventually(lambda: len(posted_with_key(fake_slack, ":debrief")) == 1)
    [debrief] = posted_with_key(fake_slack, ":debrief")
    said = blocks_of(debrief)
    assert f"Decided: {decided}" in said
    assert "Pain point: Support starts every escalation from zero" in said
    assert "Action: Add a context field to the handoff form — <@UANNA>, due" in said
    assert RELEASES not in said, "an elephant nobody recorded anything for is left out"

    # Before 09:00 the day before the due date on the clock furthest ahead (Kiritimati), it is nobody's moment yet:
    # the owner's time zone is not asked for.
    people_read = len(fake_slack.calls_to("users.info"))
    clock.move_to(datetime.combine(due - timedelta(days=2), time(18, 59), UTC))
    assert await remind_owners(app.context) == 0
    assert len(fake_slack.calls_to("users.info")) == people_read

    # The owner (in New York) is reminded once, at 09:00 on her clock the day before it is due.
    nine_in_new_york = datetime(due.year, due.month, due.day, 14, tzinfo=UTC) - timedelta(days=1)
    clock.move_to(nine_in_new_york - timedelta(minutes=1))
    assert await remind_owners(app.context) == 0
    clock.move_to(nine_in_new_york)
    assert await remind_owners(app.context) == 1
    assert await remind_owners(app.context) == 0
    await eventually(lambda: len(fake_slack.messages(fake_slack.dm_channel_id("UANNA"))) == 1)
    [due_reminder] = fake_slack.messages(fake_slack.dm_channel_id("UANNA"))
    assert "Add a context field to the handoff form" in due_reminder["text"]
    item_id = button_value(due_reminder, DONE_BUTTON)

    # Nobody but the owner marks it done.
    await click(app, DONE_BUTTON, item_id, user="UBEN", channel=fake_slack.dm_channel_id("UANNA"))
    await eventually(lambda: len(fake_slack.ephemerals) == 1)
    assert all("Only the owner of this action item" in note["text"] for note in fake_slack.ephemerals)

    # The next meeting's agenda opens with it, overdue.
    await send_due_reminder(app, clock, roundtable_id, DAY)
    await eventually(lambda: len(posted_with_key(fake_slack, ":agenda")) == 2)
    next_agenda = blocks_of(posted_with_key(fake_slack, ":agenda")[1])
    assert next_agenda.index("Still open from earlier meetings") < next_agenda.index("The elephants in the room")
    assert "Add a context field to the handoff form (<@UANNA>, due" in next_agenda
    assert "*overdue*" in next_agenda

    await click(app, DONE_BUTTON, item_id, user="UANNA", channel=fake_slack.dm_channel_id("UANNA"))
    await eventually(
        lambda: "Done" in current(fake_slack, due_reminder, fake_slack.dm_channel_id("UANNA"))["text"]
    )
    async with session_scope(app.context.sessions) as session:
        [item] = list(await session.scalars(select(RoundTableActionItem)))
        assert item.done_at is not None


async def test_the_monthly_digest_counts_the_month_on_the_channels_clock_once(
    app: RunningApp, fake_slack: FakeSlack, clock: Clock
) -> None:
    """Berlin's round-table: January 2027 begins on a Friday, so its digest for December is due then at 09:00
    Berlin time (08:00 UTC)."""
    meeting_id = await first_meeting(app, fake_slack, clock)
    for person in ("UANNA", "UBEN", "UCARL"):
        await click(app, COMING_BUTTON, str(meeting_id), user=person)
    await close_a_poll(app, at=clock() + timedelta(hours=1), ranked={HANDOFFS: 3, RELEASES: 1})
    starts_at = await meeting_start(app, meeting_id)
    clock.move_to(starts_at + timedelta(hours=1))
    form = await open_notes(app, fake_slack, meeting_id)
    fields = [block["block_id"] for block in form["blocks"] if block.get("block_id", "").startswith("decision:")]
    assert len(fields) == 2
    await submit(
        app, form, {**text_input(NOTES, "Good talk"), **text_input(fields[0], "Decided something")}, user="UCARL"
    )
    await eventually(lambda: len(posted_with_key(fake_slack, ":debrief")) == 1)
    assert starts_at < datetime(2027, 1, 1, tzinfo=UTC), "the meeting falls in December"

    clock.move_to(datetime(2027, 1, 1, 7, 59, tzinfo=UTC))
    assert await post_digests(app.context) == 0
    clock.move_to(datetime(2027, 1, 1, 8, 0, tzinfo=UTC))
    assert await post_digests(app.context) == 1
    assert await post_digests(app.context) == 0

    await eventually(lambda: len(posted_with_key(fake_slack, ":digest:2026-12")) == 1)
    [digest] = posted_with_key(fake_slack, ":digest:2026-12")
    said = blocks_of(digest)
    assert "Round-table digest for December 2026" in said
    assert "*Elephants named*\\n2" in said
    assert "*Reached a decision*\\n1 of 2" in said
    assert "*Round-table attendance by team*\\nsales 1, engineering 1, other 1" in said
    assert HANDOFFS not in said and RELEASES not in said
    assert "<@" not in said, "nobody is named"


async def test_what_the_round_table_decided_shows_in_the_elephant_history_of_the_channel(
    app: RunningApp, fake_slack: FakeSlack, clock: Clock
) -> None:
    meeting_id = await first_meeting(app, fake_slack, clock)
    await close_a_poll(app, at=clock() + timedelta(hours=1), ranked={HANDOFFS: 3, RELEASES: 1})
    before = shown(await command(app, "elephant history"))
    assert HANDOFFS in before and "decided:" not in before

    clock.move_to(await meeting_start(app, meeting_id) + timedelta(hours=1))
    form = await open_notes(app, fake_slack, meeting_id)
    [handoffs] = [
        block["block_id"]
        for block in form["blocks"]
        if block.get("block_id", "").startswith("pain:") and HANDOFFS in json.dumps(block)
    ]
    decided = "Sales adds the deal notes to every handoff ticket"
    values = {**text_input(NOTES, ""), **text_input(handoffs.replace("pain:", "decision:"), decided)}
    assert await submit(app, form, values, user="UCARL") == {}

    history = shown(await command(app, "elephant history"))
    assert f"1. {HANDOFFS} — 3 votes — decided: {decided}" in history
    assert f'2. {RELEASES} — 1 vote"' in history, "an elephant nobody decided about has no decided line"


async def test_an_elephant_gets_several_action_items_from_the_notes_form_each_with_its_owner(
    app: RunningApp, fake_slack: FakeSlack, clock: Clock
) -> None:
    meeting_id = await first_meeting(app, fake_slack, clock)
    await close_a_poll(app, at=clock() + timedelta(hours=1), ranked={HANDOFFS: 3})
    starts_at = await meeting_start(app, meeting_id)
    clock.move_to(starts_at + timedelta(hours=1))
    form = await open_notes(app, fake_slack, meeting_id)
    inputs = [block["block_id"] for block in form["blocks"] if block["type"] == "input"]
    [key] = [block_id.split(":", 1)[1] for block_id in inputs if block_id.startswith("pain:")]
    assert [block_id for block_id in inputs if block_id.startswith("owner:")] == [
        f"owner:{key}",
        f"owner:{key}:2",
        f"owner:{key}:3",
    ]

    due = starts_at.date() + timedelta(days=5)
    values = {
        **text_input(NOTES, ""),
        **text_input(f"action:{key}", "Add a context field to the handoff form"),
        **picked(f"owner:{key}", "UANNA"),
        **dated(f"due:{key}", due),
        **text_input(f"action:{key}:2", "Train support on the new field"),
        **dated(f"due:{key}:2", due),
    }
    refused = await submit(app, form, values, user="UCARL")
    assert list(refused["errors"]) == [f"owner:{key}:2"], "the mistake is shown next to its own row's field"
    assert await submit(app, form, {**values, **picked(f"owner:{key}:2", "UBEN")}, user="UCARL") == {}

    await eventually(lambda: len(posted_with_key(fake_slack, ":debrief")) == 1)
    said = blocks_of(posted_with_key(fake_slack, ":debrief")[0])
    assert "Action: Add a context field to the handoff form — <@UANNA>, due" in said
    assert "Action: Train support on the new field — <@UBEN>, due" in said
    async with session_scope(app.context.sessions) as session:
        items = list(await session.scalars(select(RoundTableActionItem).order_by(RoundTableActionItem.position)))
    assert [(item.owner_id, item.position) for item in items] == [("UANNA", 1), ("UBEN", 2)]

    # Both owners are reminded, each about their own item.
    clock.move_to(datetime(due.year, due.month, due.day, 14, tzinfo=UTC) - timedelta(days=1))
    assert await remind_owners(app.context) == 2

    # The form opens again with both rows as recorded; clearing the second row removes its item.
    reopened = await open_notes(app, fake_slack, meeting_id)
    again = {block["block_id"]: block for block in reopened["blocks"] if "block_id" in block}
    assert again[f"owner:{key}:2"]["element"]["initial_user"] == "UBEN"
    assert again[f"action:{key}:2"]["element"]["initial_value"] == "Train support on the new field"
    cleared = {**values, **text_input(f"action:{key}:2", ""), **dated(f"due:{key}:2", due)}
    cleared[f"due:{key}:2"] = {f"due:{key}:2": {"type": "datepicker", "selected_date": None}}
    assert await submit(app, reopened, cleared, user="UCARL") == {}
    async with session_scope(app.context.sessions) as session:
        [kept] = list(await session.scalars(select(RoundTableActionItem)))
    assert kept.owner_id == "UANNA"
