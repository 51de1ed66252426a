"""`/whoelse roundtable` through the real app: set up in a form, shown, reminded, answered, debriefed and cancelled."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import func, select

from bot.app import create_app
from bot.settings import Settings
from habits.form_origin import FormOrigin
from habits.roundtables.form import NOTES, NOTES_FORM, SETUP_FORM
from habits.roundtables.messages import (
    CANCEL_BUTTON,
    CHANGE_BUTTON,
    COMING_BUTTON,
    NOT_COMING_BUTTON,
    NOTES_BUTTON,
)
from models.base import utcnow
from models.db import session_scope
from models.outbox import OutboxMessage
from models.roundtables import RoundTable, RoundTableRsvp, roundtable_for_channel
from models.scheduler_jobs import upcoming_runs
from scheduler.roundtable_jobs import job_source, send_reminder
from tests.conftest import TEAM_ID, RunningApp, eventually, serving, unpaced
from tests.fakes.slack_api import FakeSlack
from tests.support.logs import failures
from tests.support.signing import slack_form, slack_interaction

CHANNEL = "CROUNDTABLE"
DAY = 24 * 60


class Clock:
    """Real time, moved ahead by hand so a week passes in no time (delivery's pacing still sees time pass)."""

    def __init__(self) -> None:
        self.ahead = timedelta()

    def __call__(self) -> datetime:
        return utcnow() + self.ahead

    def move_to(self, moment: datetime) -> None:
        self.ahead = moment - utcnow()


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
async def app(settings: Settings, fake_slack: FakeSlack, clock: Clock) -> AsyncIterator[RunningApp]:
    fake_slack.add_user("UANNA", tz="America/New_York", title="Account Executive, Sales")
    fake_slack.add_user("UBEN", title="Staff Engineer")
    fake_slack.add_user("UCARL", title="Designer")
    fake_slack.add_usergroup("SMKT", handle="marketing", name="Marketing", users=["UCARL"])
    fake_slack.add_channel(CHANNEL, members=["UANNA", "UBEN", "UCARL"])
    # The real scheduler with only the round-table's jobs; their moments are days away, so tests send by hand.
    application = create_app(settings, clock=clock, job_sources=[job_source], delivery_policy=unpaced())
    async with serving(application) as running:
        yield running


async def command(app: RunningApp, text: str, *, user: str = "UANNA") -> dict[str, Any]:
    body, headers = slack_form(
        {
            "team_id": TEAM_ID,
            "channel_id": CHANNEL,
            "user_id": user,
            "command": "/whoelse",
            "text": text,
            "trigger_id": f"trigger-{user}",
            "response_url": "https://hooks.slack.test/commands/1",
        }
    )
    response = await app.post("/slack/events", body, headers)
    assert response.status_code == 200
    return response.json() if response.content else {}


def shown(reply: dict[str, Any]) -> str:
    """Everything a reply shows: its text and the text of its blocks."""
    return json.dumps(reply, ensure_ascii=False)


async def click(
    app: RunningApp, action_id: str, value: str, *, user: str, channel: str = CHANNEL, team: str = TEAM_ID
) -> None:
    body, headers = slack_interaction(
        {
            "type": "block_actions",
            "team": {"id": team},
            "user": {"id": user, "team_id": team},
            "api_app_id": "AWHOELSE",
            "trigger_id": f"trigger-{user}-{action_id}",
            "channel": {"id": channel},
            "container": {"type": "message", "channel_id": channel, "message_ts": "1.0"},
            "actions": [{"type": "button", "action_id": action_id, "block_id": "roundtable", "value": value}],
        }
    )
    assert (await app.post("/slack/events", body, headers)).status_code == 200


async def submit(
    app: RunningApp, view: dict[str, Any], values: dict[str, Any], *, user: str, team: str = TEAM_ID
) -> dict[str, Any]:
    body, headers = slack_interaction(
        {
            "type": "view_submission",
            "team": {"id": team},
            "user": {"id": user, "team_id": team},
            "api_app_id": "AWHOELSE",
            "view": {
                "id": "VFORM",
                "type": "modal",
                "callback_id": view["callback_id"],
                "private_metadata": view["private_metadata"],
                "state": {"values": values},
            },
        }
    )
    response = await app.post("/slack/events", body, headers)
    assert response.status_code == 200
    return response.json() if response.content else {}


def text_input(block: str, value: str) -> dict[str, Any]:
    return {block: {block: {"type": "plain_text_input", "value": value}}}


def selected(block: str, value: str) -> dict[str, Any]:
    return {block: {block: {"type": "static_select", "selected_option": {"value": value}}}}


def picked_time(block: str, value: str) -> dict[str, Any]:
    return {block: {block: {"type": "timepicker", "selected_time": value}}}


def picked_people(block: str, *people: str) -> dict[str, Any]:
    return {block: {block: {"type": "multi_users_select", "selected_users": list(people)}}}


def ticked(block: str, *values: str) -> dict[str, Any]:
    options = [{"text": {"type": "plain_text", "text": value}, "value": value} for value in values]
    return {block: {block: {"type": "checkboxes", "selected_options": options}}}


def setup_values(
    *,
    time: str = "15:00",
    groups: str = "@marketing",
    zone: str = "Europe/Berlin",
    weekday: str = "1",
    reminders: tuple[str, ...] = (str(DAY), "15"),
) -> dict[str, Any]:
    return {
        **selected("cadence", "weekly"),
        **selected("weekday", weekday),
        **picked_time("time", time),
        **selected("timezone", zone),
        **picked_people("invitees", "UANNA", "UBEN"),
        **text_input("groups", groups),
        **ticked("reminders", *reminders),
    }


async def open_form(app: RunningApp, fake_slack: FakeSlack, text: str) -> dict[str, Any]:
    opened = len(fake_slack.views_opened)
    await command(app, text)
    await eventually(lambda: len(fake_slack.views_opened) > opened)
    view: dict[str, Any] = fake_slack.views_opened[-1]["view"]
    return view


def posted_with_key(fake_slack: FakeSlack, suffix: str) -> list[dict[str, Any]]:
    return [
        message
        for message in fake_slack.messages(CHANNEL)
        if str(((message.get("metadata") or {}).get("event_payload") or {}).get("idempotency_key")).endswith(
            suffix
        )
    ]


def button_value(message: dict[str, Any], action_id: str) -> str:
    for block in message["blocks"]:
        for element in block.get("elements", []):
            if element.get("action_id") == action_id:
                return str(element["value"])
    raise AssertionError(f"no {action_id} button in the message")


async def set_up(app: RunningApp, fake_slack: FakeSlack) -> int:
    form = await open_form(app, fake_slack, "roundtable set")
    assert await submit(app, form, setup_values(), user="UANNA") == {}
    async with session_scope(app.context.sessions) as session:
        roundtable = await roundtable_for_channel(session, workspace_id=TEAM_ID, channel_id=CHANNEL)
    assert roundtable is not None
    return roundtable.id


async def test_a_roundtable_is_set_up_in_the_form_shown_and_cancelled(
    app: RunningApp, fake_slack: FakeSlack
) -> None:
    assert "no round-table yet" in shown(await command(app, "roundtable"))

    form = await open_form(app, fake_slack, "roundtable set")
    assert form["callback_id"] == SETUP_FORM
    timezone_field = next(block for block in form["blocks"] if block.get("block_id") == "timezone")
    assert timezone_field["element"]["type"] == "static_select"
    zones = timezone_field["element"]["options"]
    assert zones[0]["value"] == "America/New_York", "the caller's own zone comes first"
    assert timezone_field["element"]["initial_option"]["value"] == "America/New_York", "and is suggested"
    refused = await submit(app, form, setup_values(time="25:00", groups="@nosuchgroup"), user="UANNA")
    assert refused["response_action"] == "errors"
    assert set(refused["errors"]) == {"time", "groups"}

    assert await submit(app, form, setup_values(), user="UANNA") == {}
    await eventually(lambda: len(posted_with_key(fake_slack, "")) == 1)
    [announced] = posted_with_key(fake_slack, "")
    assert "<@UANNA> set up this channel's cross-functional round-table" in announced["text"]
    assert "Nobody from *support* is invited yet" in json.dumps(announced["blocks"])

    overview = shown(await command(app, "roundtable", user="UBEN"))
    assert "every Tuesday at 15:00 (Europe/Berlin)" in overview
    assert "Next meeting" in overview and "Tuesday" in overview
    assert "<@UANNA>, <@UBEN>, <!subteam^SMKT>" in overview
    assert "1 day and 15 minutes before" in overview
    assert "Nobody from *support* is invited yet" in overview
    # Saving the form schedules one reminder job per offset; cancelling removes them.
    await eventually(lambda: scheduled_reminders(app, expected=2), within=15)

    cancelled = await command(app, "roundtable cancel", user="UBEN")
    assert "Cancelled this channel's round-table" in cancelled["text"]
    assert "no round-table yet" in shown(await command(app, "roundtable"))
    await eventually(lambda: scheduled_reminders(app, expected=0), within=15)


def element(view: dict[str, Any], block_id: str) -> dict[str, Any]:
    found: dict[str, Any] = next(block["element"] for block in view["blocks"] if block.get("block_id") == block_id)
    return found


async def test_a_new_york_round_table_picked_in_the_form_stays_at_14_45_local_across_the_clock_change(
    app: RunningApp, fake_slack: FakeSlack, clock: Clock
) -> None:
    # A week before New York falls back (Sunday 1 November 2026).
    clock.move_to(datetime(2026, 10, 20, 12, 0, tzinfo=UTC))
    form = await open_form(app, fake_slack, "roundtable set")
    assert [element(form, "time")["type"], element(form, "invitees")["type"]] == [
        "timepicker",
        "multi_users_select",
    ]
    [own_zone, *_others] = element(form, "timezone")["options"]
    reminders = element(form, "reminders")
    assert reminders["type"] == "checkboxes"
    assert [option["value"] for option in reminders["initial_options"]] == [str(DAY), "15"]
    assert "15" in [option["value"] for option in reminders["options"]]

    # Anna picks Tuesday, 14:45 on the clock, her own zone (first in the menu) and only the 15-minute reminder.
    answer = await submit(
        app,
        form,
        setup_values(time="14:45", zone=own_zone["value"], groups="", reminders=("15",)),
        user="UANNA",
    )

    assert answer == {}
    assert "every Tuesday at 14:45 (America/New_York)" in shown(await command(app, "roundtable"))
    async with session_scope(app.context.sessions) as session:
        [spec] = await job_source(session)
    before, after = [
        spec.trigger.get_next_fire_time(None, moment)
        for moment in (datetime(2026, 10, 26, tzinfo=UTC), datetime(2026, 11, 2, tzinfo=UTC))
    ]
    # 14:30 in New York both times: 18:30 UTC in daylight saving time, 19:30 UTC after it ends.
    assert before == datetime(2026, 10, 27, 18, 30, tzinfo=UTC)
    assert after == datetime(2026, 11, 3, 19, 30, tzinfo=UTC)
    assert after.astimezone(ZoneInfo("America/New_York")).strftime("%H:%M") == "14:30"

    # The reminder sent after the change is for the meeting at 14:45 New York time, 19:45 UTC.
    clock.move_to(after)
    await send_reminder(roundtable_id=spec.kwargs["roundtable_id"], offset_minutes=15)
    await eventually(lambda: len(posted_with_key(fake_slack, ":15")) == 1)
    [reminder] = posted_with_key(fake_slack, ":15")
    key = reminder["metadata"]["event_payload"]["idempotency_key"]
    assert ":2026-11-03T19:45:00+00:00:" in key
    assert "Tuesday 3 November 2026, 14:45 EST" in reminder["text"]


@pytest.mark.parametrize(
    ("fault", "said"),
    [
        (
            {"status": 502, "error": "bad_gateway"},
            "I couldn't reach Slack to read this workspace's user groups just now. Please try again in a minute.",
        ),
        (
            {"error": "missing_scope"},
            "whoelse lacks a Slack permission it needs to read this workspace's user groups (`missing_scope`). "
            "Whoever runs whoelse needs to reinstall the Slack app with the scopes in manifest.yml.",
        ),
    ],
)
async def test_a_form_naming_groups_slack_cannot_list_says_why_and_saves_nothing(
    app: RunningApp, fake_slack: FakeSlack, fault: dict[str, Any], said: str
) -> None:
    form = await open_form(app, fake_slack, "roundtable set")
    fake_slack.fail_next("usergroups.list", **fault)

    answer = await submit(app, form, setup_values(), user="UANNA")

    assert answer == {"response_action": "errors", "errors": {"groups": said}}
    async with session_scope(app.context.sessions) as session:
        assert await roundtable_for_channel(session, workspace_id=TEAM_ID, channel_id=CHANNEL) is None


async def scheduled_reminders(app: RunningApp, *, expected: int) -> bool:
    async with session_scope(app.context.sessions) as session:
        runs = await upcoming_runs(session, workspace_id=TEAM_ID)
    return len([job_id for job_id, _when in runs if job_id.startswith("roundtable:")]) == expected


async def posted_reminder(app: RunningApp, fake_slack: FakeSlack, clock: Clock) -> dict[str, Any]:
    """Sets up the channel's round-table and posts the reminder a day before its first meeting (and the agenda)."""
    roundtable_id = await set_up(app, fake_slack)
    async with session_scope(app.context.sessions) as session:
        [spec] = [spec for spec in await job_source(session) if spec.kwargs["offset_minutes"] == DAY]
    clock.move_to(spec.trigger.get_next_fire_time(None, clock()))

    await send_reminder(roundtable_id=roundtable_id, offset_minutes=DAY)
    await eventually(
        lambda: len(posted_with_key(fake_slack, f":{DAY}")) == 1 and bool(posted_with_key(fake_slack, ":agenda"))
    )
    [reminder] = posted_with_key(fake_slack, f":{DAY}")
    return reminder


async def test_answers_update_the_reminder_and_notes_become_the_debrief(
    app: RunningApp, fake_slack: FakeSlack, clock: Clock
) -> None:
    reminder = await posted_reminder(app, fake_slack, clock)
    assert "Round-table in 1 day" in reminder["text"]
    meeting_id = button_value(reminder, COMING_BUTTON)

    await click(app, COMING_BUTTON, meeting_id, user="UBEN")
    await click(app, NOT_COMING_BUTTON, meeting_id, user="UCARL")
    await eventually(
        lambda: any("1 coming, 1 can't make it" in str(update["text"]) for update in fake_slack.updates)
    )
    [edited] = [message for message in fake_slack.messages(CHANNEL) if message["ts"] == reminder["ts"]]
    assert "*Coming (1)*\\n<@UBEN>" in json.dumps(edited["blocks"])

    [agenda] = posted_with_key(fake_slack, ":agenda")
    opened = len(fake_slack.views_opened)
    await click(app, NOTES_BUTTON, button_value(agenda, NOTES_BUTTON), user="UCARL")
    await eventually(lambda: len(fake_slack.views_opened) > opened)
    notes_form = fake_slack.views_opened[-1]["view"]
    assert notes_form["callback_id"] == NOTES_FORM
    assert (await submit(app, notes_form, text_input(NOTES, "   "), user="UCARL"))["response_action"] == "errors"
    decided = "Sales shares deal context before handoff; support joins the Tuesday demo"
    assert await submit(app, notes_form, text_input(NOTES, decided), user="UCARL") == {}

    await eventually(lambda: len(posted_with_key(fake_slack, ":debrief")) == 1)
    [debrief] = posted_with_key(fake_slack, ":debrief")
    assert "Round-table debrief" in debrief["text"]
    assert decided in json.dumps(debrief["blocks"])


OTHER_CHANNEL = "CHR"
GONE = "I can't find that round-table meeting any more."


async def answers(app: RunningApp) -> list[RoundTableRsvp]:
    async with session_scope(app.context.sessions) as session:
        return list(await session.scalars(select(RoundTableRsvp)))


async def test_a_meeting_clicked_in_another_channel_is_refused_privately(
    app: RunningApp, fake_slack: FakeSlack, clock: Clock
) -> None:
    channel = OTHER_CHANNEL
    reminder = await posted_reminder(app, fake_slack, clock)
    meeting_id = button_value(reminder, COMING_BUTTON)
    [agenda] = posted_with_key(fake_slack, ":agenda")
    opened = len(fake_slack.views_opened)

    await click(app, COMING_BUTTON, meeting_id, user="UBEN", channel=channel)
    await click(app, NOTES_BUTTON, button_value(agenda, NOTES_BUTTON), user="UBEN", channel=channel)

    await eventually(lambda: len(fake_slack.ephemerals) == 2)
    for note in fake_slack.ephemerals:
        assert (note["channel"], note["user"], note["text"]) == (channel, "UBEN", GONE)
    assert len(fake_slack.views_opened) == opened
    assert await answers(app) == []
    await app.context.delivery.drain()
    assert fake_slack.updates == [], "the reminder was not edited"


async def test_round_table_forms_are_sent_only_by_who_opened_them_for_their_own_channel(
    app: RunningApp, fake_slack: FakeSlack, clock: Clock
) -> None:
    setup = await open_form(app, fake_slack, "roundtable set")
    refused = await submit(app, setup, setup_values(), user="UBEN")
    assert refused["response_action"] == "errors" and "open it again" in shown(refused)
    async with session_scope(app.context.sessions) as session:
        assert await roundtable_for_channel(session, workspace_id=TEAM_ID, channel_id=CHANNEL) is None

    await posted_reminder(app, fake_slack, clock)
    [agenda] = posted_with_key(fake_slack, ":agenda")
    opened = len(fake_slack.views_opened)
    await click(app, NOTES_BUTTON, button_value(agenda, NOTES_BUTTON), user="UCARL")
    await eventually(lambda: len(fake_slack.views_opened) > opened)
    notes_form = fake_slack.views_opened[-1]["view"]
    meeting_id = int(button_value(agenda, NOTES_BUTTON))
    moved = dict(notes_form, private_metadata=FormOrigin(OTHER_CHANNEL, "UCARL", meeting_id).encoded())

    by_someone_else = await submit(app, notes_form, text_input(NOTES, "Not mine"), user="UBEN")
    elsewhere = await submit(app, moved, text_input(NOTES, "Sneaked in"), user="UCARL")
    other_workspace = await submit(app, notes_form, text_input(NOTES, "From outside"), user="UCARL", team="TOTHER")

    assert "open it again" in by_someone_else["errors"][NOTES]
    assert elsewhere == {"response_action": "errors", "errors": {NOTES: GONE}}
    # Another workspace's form never reaches the meeting: the one bot token serves one workspace.
    assert other_workspace["response_action"] == "update"
    await app.context.delivery.drain()
    assert posted_with_key(fake_slack, ":debrief") == []


ODD_IDS = ["", "-1", "²", "٣", str(2**63), str(2**64)]


@pytest.mark.parametrize("value", ODD_IDS)
async def test_a_meeting_button_with_an_odd_id_is_refused_without_a_failure(
    app: RunningApp, fake_slack: FakeSlack, caplog: pytest.LogCaptureFixture, value: str
) -> None:
    await click(app, NOT_COMING_BUTTON, value, user="UBEN")
    await click(app, NOTES_BUTTON, value, user="UBEN")

    await eventually(lambda: len(fake_slack.ephemerals) == 2)
    assert {note["text"] for note in fake_slack.ephemerals} == {GONE}
    assert fake_slack.views_opened == []
    assert failures(caplog) == []


@pytest.mark.parametrize(
    "private_metadata",
    [*ODD_IDS, *(f'{{"channel": "{CHANNEL}", "user": "UANNA", "id": {odd}}}' for odd in ("-1", str(2**64)))],
)
async def test_a_round_table_form_with_an_odd_context_is_refused_without_a_failure(
    app: RunningApp, caplog: pytest.LogCaptureFixture, private_metadata: str
) -> None:
    notes = {"callback_id": NOTES_FORM, "private_metadata": private_metadata}
    setup = {"callback_id": SETUP_FORM, "private_metadata": private_metadata}

    assert (await submit(app, notes, text_input(NOTES, "Decided"), user="UANNA"))["response_action"] == "errors"
    assert (await submit(app, setup, setup_values(), user="UANNA"))["response_action"] == "errors"
    async with session_scope(app.context.sessions) as session:
        assert list(await session.scalars(select(RoundTable))) == []
    assert failures(caplog) == []


@pytest.mark.parametrize(
    ("field", "value"), [("weekday", "²"), ("weekday", "٣"), ("weekday", "-1"), ("cadence", "monthly:²")]
)
async def test_an_odd_choice_in_the_set_up_form_is_a_field_error_without_a_failure(
    app: RunningApp, fake_slack: FakeSlack, caplog: pytest.LogCaptureFixture, field: str, value: str
) -> None:
    form = await open_form(app, fake_slack, "roundtable set")

    answer = await submit(app, form, {**setup_values(), **selected(field, value)}, user="UANNA")

    assert answer["response_action"] == "errors"
    assert list(answer["errors"]) == [field]
    assert failures(caplog) == []


@pytest.mark.parametrize("action_id", [CANCEL_BUTTON, CHANGE_BUTTON])
async def test_a_round_table_button_without_a_channel_does_nothing(
    app: RunningApp, fake_slack: FakeSlack, caplog: pytest.LogCaptureFixture, action_id: str
) -> None:
    await set_up(app, fake_slack)
    # The announcement is queued after the form closes: counted once it is posted.
    await eventually(lambda: len(fake_slack.messages(CHANNEL)) == 1)
    async with session_scope(app.context.sessions) as session:
        queued = await session.scalar(select(func.count()).select_from(OutboxMessage))
    opened = len(fake_slack.views_opened)
    body, headers = slack_interaction(
        {
            "type": "block_actions",
            "team": {"id": TEAM_ID},
            "user": {"id": "UANNA", "team_id": TEAM_ID},
            "api_app_id": "AWHOELSE",
            "trigger_id": "trigger-no-channel",
            "container": {"type": "message", "message_ts": "1.0"},
            "actions": [{"type": "button", "action_id": action_id, "block_id": "roundtable", "value": ""}],
        }
    )

    before = asyncio.all_tasks()
    assert (await app.post("/slack/events", body, headers)).status_code == 200
    # Bolt acknowledges first and works after: wait for the listener, or "nothing happened" would prove nothing.
    started = asyncio.all_tasks() - before
    if started:
        _done, pending = await asyncio.wait(started, timeout=10)
        assert not pending, "the listener did not finish"

    await app.context.delivery.drain()
    async with session_scope(app.context.sessions) as session:
        roundtable = await roundtable_for_channel(session, workspace_id=TEAM_ID, channel_id=CHANNEL)
        assert roundtable is not None and roundtable.active
        assert await session.scalar(select(func.count()).select_from(OutboxMessage)) == queued
    assert len(fake_slack.views_opened) == opened
    assert failures(caplog) == []
