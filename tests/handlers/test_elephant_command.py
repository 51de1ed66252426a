"""`/whoelse elephant` through the real app: a poll started, named, voted on and closed, as people would see it."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import select

from bot.app import create_app
from bot.settings import Settings
from habits.elephants.messages import (
    BALLOT_FORM,
    CHOICE_INPUT,
    NAME_BUTTON,
    SUBMIT_FORM,
    TEXT_INPUT,
    VOTE_BUTTON,
)
from habits.elephants.polls import start_poll_now
from habits.form_origin import FormOrigin
from models.base import utcnow
from models.db import session_scope
from models.elephants import ElephantSubmission
from models.outbox import OutboxMessage
from scheduler.elephant_jobs import remind_open_polls, sweep_polls
from tests.conftest import TEAM_ID, RunningApp, eventually, serving, unpaced
from tests.fakes.slack_api import FakeSlack
from tests.support.logs import failures
from tests.support.signing import slack_form, slack_interaction

CHANNEL = "CELEPHANT"
PEOPLE = ["UANNA", "UBORIS", "UCHLOE"]


class Clock:
    """Real time, moved ahead by hand so a two-day poll takes no time (delivery's pacing still sees time pass)."""

    def __init__(self) -> None:
        self.ahead = timedelta()

    def __call__(self) -> datetime:
        return utcnow() + self.ahead

    @property
    def now(self) -> datetime:
        return self()

    def advance(self, **delta: float) -> None:
        self.ahead += timedelta(**delta)

    def move_to(self, moment: datetime) -> None:
        self.ahead = moment - utcnow()


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
async def app(settings: Settings, fake_slack: FakeSlack, clock: Clock) -> AsyncIterator[RunningApp]:
    for person in PEOPLE:
        fake_slack.add_user(person, tz="Europe/Berlin")
    fake_slack.add_channel(CHANNEL, members=PEOPLE)
    # The test moves the poll on itself; no scheduled job runs behind its back.
    application = create_app(settings, clock=clock, job_sources=[], delivery_policy=unpaced())
    async with serving(application) as running:
        yield running


async def command(app: RunningApp, text: str, *, user: str = "UANNA") -> str:
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
    return str(response.json()["text"])


async def press(
    app: RunningApp, action_id: str, value: str, user: str, *, channel: str = CHANNEL, team: str = TEAM_ID
) -> None:
    """Clicks a poll button on a message in `channel`."""
    body, headers = slack_interaction(
        {
            "type": "block_actions",
            "team": {"id": team},
            "user": {"id": user, "team_id": team},
            "api_app_id": "AWHOELSE",
            "trigger_id": f"trigger-{user}-{action_id}",
            "channel": {"id": channel},
            "container": {"type": "message", "channel_id": channel, "message_ts": "1.0"},
            "actions": [{"type": "button", "action_id": action_id, "block_id": "elephant", "value": value}],
        }
    )
    response = await app.post("/slack/events", body, headers)
    assert response.status_code == 200


async def click(app: RunningApp, fake_slack: FakeSlack, action_id: str, value: str, user: str) -> dict[str, Any]:
    """Clicks a poll button and returns the form Slack was asked to open."""
    opened = len(fake_slack.views_opened)
    await press(app, action_id, value, user)
    await eventually(lambda: len(fake_slack.views_opened) > opened)
    view: dict[str, Any] = fake_slack.views_opened[-1]["view"]
    return view


async def submit(
    app: RunningApp, view: dict[str, Any], user: str, values: dict[str, Any], *, team: str = TEAM_ID
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


def elephant(text: str) -> dict[str, Any]:
    return {TEXT_INPUT: {TEXT_INPUT: {"type": "plain_text_input", "value": text}}}


def choice(submission_id: str) -> dict[str, Any]:
    return {CHOICE_INPUT: {CHOICE_INPUT: {"type": "radio_buttons", "selected_option": {"value": submission_id}}}}


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


async def test_a_poll_started_now_is_named_voted_on_and_closed_with_results_posted_once(
    app: RunningApp, fake_slack: FakeSlack, clock: Clock
) -> None:
    assert "Started" in await command(app, "elephant now two-phase")
    await eventually(lambda: len(posted_with_key(fake_slack, ":open")) == 1)
    [poll_post] = posted_with_key(fake_slack, ":open")
    assert "What is the elephant in the room this week?" in poll_post["text"]
    poll_id = button_value(poll_post, NAME_BUTTON)

    form = await click(app, fake_slack, NAME_BUTTON, poll_id, "UANNA")
    assert form["callback_id"] == SUBMIT_FORM
    elephants = {
        "UANNA": "Sales commits dates engineering never saw",
        "UBORIS": "Support hears about outages from customers",
        "UCHLOE": "Marketing launches before docs exist",
    }
    for person, text in elephants.items():
        own = form if person == "UANNA" else await click(app, fake_slack, NAME_BUTTON, poll_id, person)
        answer = await submit(app, own, person, elephant(text))
        assert answer["response_action"] == "update", answer
    again = await submit(app, form, "UANNA", elephant("Something else entirely"))
    assert again["response_action"] == "errors"
    assert "already" in again["errors"][TEXT_INPUT]
    already = await click(app, fake_slack, NAME_BUTTON, poll_id, "UANNA")
    assert already["callback_id"] != SUBMIT_FORM, "who already answered gets a note, not a second form"

    clock.advance(days=1, minutes=1)
    await sweep_polls(app.context)
    await eventually(lambda: len(posted_with_key(fake_slack, ":voting")) == 1)
    [voting_post] = posted_with_key(fake_slack, ":voting")
    voting_id = button_value(voting_post, VOTE_BUTTON)
    ballot = await click(app, fake_slack, VOTE_BUTTON, voting_id, "UBORIS")
    assert ballot["callback_id"] == BALLOT_FORM
    options = {
        option["text"]["text"].split(". ", 1)[1]: option["value"]
        for option in ballot["blocks"][-1]["element"]["options"]
    }
    assert set(options) == set(elephants.values())
    outage = options["Support hears about outages from customers"]
    for person in PEOPLE:
        own = ballot if person == "UBORIS" else await click(app, fake_slack, VOTE_BUTTON, voting_id, person)
        assert (await submit(app, own, person, choice(outage)))["response_action"] == "update"
    assert (await submit(app, ballot, "UBORIS", choice(outage)))["response_action"] == "errors"

    clock.advance(days=1)
    await sweep_polls(app.context)
    clock.advance(minutes=5)
    await sweep_polls(app.context)
    await eventually(lambda: len(posted_with_key(fake_slack, ":results")) == 1)

    [results] = posted_with_key(fake_slack, ":results")
    rendered = str(results["blocks"])
    assert "1. Support hears about outages from customers — *3 votes*" in rendered
    assert "3 people took part" in rendered
    assert fake_slack.duplicates_by_metadata_key() == {}
    assert len(posted_with_key(fake_slack, ":results")) == 1
    # The poll message loses its button once the poll has closed (edits are paced like posts, so wait for it).
    await eventually(
        lambda: any(u["ts"] == poll_post["ts"] and "poll has closed" in u["text"] for u in fake_slack.updates)
    )
    for person in PEOPLE:
        assert person not in str(fake_slack.messages(CHANNEL)), "nothing posted names a participant"


async def test_forms_sent_after_the_poll_closed_say_it_has_closed(
    app: RunningApp, fake_slack: FakeSlack, clock: Clock
) -> None:
    await command(app, "elephant now two-phase")
    await eventually(lambda: len(posted_with_key(fake_slack, ":open")) == 1)
    poll_id = button_value(posted_with_key(fake_slack, ":open")[0], NAME_BUTTON)
    annas_form = await click(app, fake_slack, NAME_BUTTON, poll_id, "UANNA")
    await submit(app, annas_form, "UANNA", elephant("Nobody owns onboarding"))
    naming_form = await click(app, fake_slack, NAME_BUTTON, poll_id, "UBORIS")
    clock.advance(days=1, minutes=1)
    await sweep_polls(app.context)
    await eventually(lambda: len(posted_with_key(fake_slack, ":voting")) == 1)
    ballot = await click(app, fake_slack, VOTE_BUTTON, poll_id, "UCHLOE")
    [elephant_id] = [option["value"] for option in ballot["blocks"][-1]["element"]["options"]]

    # Both forms were left open in Slack while the poll closed.
    clock.advance(days=1, minutes=1)
    await sweep_polls(app.context)
    late_name = await submit(app, naming_form, "UBORIS", elephant("Too late"))
    late_vote = await submit(app, ballot, "UCHLOE", choice(elephant_id))

    closed = "This elephant-in-the-room poll has closed. Look for its results in the channel."
    assert late_name == {"response_action": "errors", "errors": {TEXT_INPUT: closed}}
    assert late_vote == {"response_action": "errors", "errors": {CHOICE_INPUT: closed}}


async def test_a_weekly_poll_is_set_shown_and_stopped(app: RunningApp) -> None:
    reply = await command(app, "elephant weekly monday 09:30 Europe/Berlin open for 3d")
    assert "every Monday at 09:30 (Europe/Berlin)" in reply and "3 days" in reply
    shown = await command(app, "elephant")
    assert "every Monday at 09:30 (Europe/Berlin)" in shown
    assert "Stopped" in await command(app, "elephant off")
    assert "no weekly" in (await command(app, "elephant")).lower()
    assert "no weekly elephant poll to stop" in await command(app, "elephant off")


async def test_mistyped_commands_get_a_useful_answer(app: RunningApp) -> None:
    assert "weekday" in await command(app, "elephant weekly someday 09:00")
    assert "time zone" in await command(app, "elephant weekly friday 16:00 Mars/Olympus")
    assert "between" in await command(app, "elephant now open for 9d")
    assert "/whoelse elephant now" in await command(app, "elephant sometimes")


@pytest.mark.parametrize(
    "text",
    [
        "elephant now open for " + "999999w " * 200,
        "elephant weekly monday 09:00 open for " + "999999w " * 200,
        "elephant now open for 999999w",
    ],
)
async def test_an_absurdly_long_poll_is_refused_with_the_allowed_range(
    app: RunningApp, fake_slack: FakeSlack, caplog: pytest.LogCaptureFixture, text: str
) -> None:
    reply = await command(app, text)

    assert "between 1 hour and 6 days" in reply
    assert failures(caplog) == []
    assert "no weekly" in (await command(app, "elephant")).lower()
    assert "no poll" in (await command(app, "elephant")).lower()


def first_working_hour_after(moment: datetime) -> datetime:
    """The first moment at or after `moment` that is 10:00-15:00 UTC on a weekday (an hour later is, too)."""
    candidate = moment
    while candidate.weekday() >= 5 or not 10 <= candidate.hour < 15:
        candidate += timedelta(hours=1)
    return candidate


async def test_people_who_have_not_answered_get_one_reminder_by_dm(
    app: RunningApp, fake_slack: FakeSlack, clock: Clock
) -> None:
    fake_slack.add_user("UQUIET", tz="UTC")
    fake_slack.add_channel(CHANNEL, members=[*PEOPLE, "UQUIET"])
    for person in PEOPLE:
        fake_slack.add_user(person, tz="UTC")
    # Open for six days, so the reminder window always holds a weekday working hour, whatever day this runs.
    await command(app, "elephant now open for 6d")
    await eventually(lambda: len(posted_with_key(fake_slack, ":open")) == 1)
    poll_id = button_value(posted_with_key(fake_slack, ":open")[0], NAME_BUTTON)
    form = await click(app, fake_slack, NAME_BUTTON, poll_id, "UANNA")
    await submit(app, form, "UANNA", elephant("Nobody owns onboarding"))

    opened = clock.now
    reminder_time = first_working_hour_after(opened + timedelta(days=2))
    clock.advance(seconds=(reminder_time - opened).total_seconds())
    await remind_open_polls(app.context)
    clock.advance(hours=1)
    await remind_open_polls(app.context)

    reminded = {"UBORIS", "UCHLOE", "UQUIET"}
    await eventually(lambda: all(fake_slack.messages(fake_slack.dm_channel_id(user)) for user in reminded))
    await app.context.delivery.drain()
    for user in reminded:
        [dm] = fake_slack.messages(fake_slack.dm_channel_id(user))
        assert "elephant-in-the-room poll open" in dm["text"]
    assert fake_slack.messages(fake_slack.dm_channel_id("UANNA")) == [], "who took part is not reminded"


# 11:00 in Berlin, where everyone in the channel works.
MONDAY = datetime(2026, 11, 23, 10, 0, tzinfo=UTC)
TUESDAY = MONDAY + timedelta(days=1)


def reads_of_people(fake_slack: FakeSlack) -> int:
    """Requests that read a channel's members or a person: what a reminder pass spends on each poll it looks at."""
    return len(fake_slack.calls_to("conversations.members")) + len(fake_slack.calls_to("users.info"))


def dms_to(fake_slack: FakeSlack, user: str) -> list[dict[str, Any]]:
    return fake_slack.messages(fake_slack.dm_channel_id(user))


async def named_two_day_poll(app: RunningApp, fake_slack: FakeSlack, clock: Clock, opened: datetime) -> None:
    """A poll open for two days from `opened`, in which UANNA has named an elephant."""
    clock.move_to(opened)
    await command(app, "elephant now open for 2d")
    await eventually(lambda: len(posted_with_key(fake_slack, ":open")) == 1)
    poll_id = button_value(posted_with_key(fake_slack, ":open")[0], NAME_BUTTON)
    form = await click(app, fake_slack, NAME_BUTTON, poll_id, "UANNA")
    await submit(app, form, "UANNA", elephant("Nobody owns onboarding"))


async def remind_at(app: RunningApp, clock: Clock, moment: datetime) -> None:
    clock.move_to(moment)
    await remind_open_polls(app.context)
    await app.context.delivery.drain()


async def test_an_open_poll_outside_its_reminder_window_costs_no_request_to_slack(
    app: RunningApp, fake_slack: FakeSlack, clock: Clock
) -> None:
    await named_two_day_poll(app, fake_slack, clock, MONDAY)

    # Reminders wait a quarter of the poll (until Monday 22:00) and stop an eighth before it closes (Wednesday 04:00):
    # both moments are working hours in Berlin or Tokyo.
    await remind_at(app, clock, MONDAY + timedelta(hours=2))
    await remind_at(app, clock, TUESDAY + timedelta(hours=18, minutes=30))
    assert reads_of_people(fake_slack) == 0
    assert all(dms_to(fake_slack, person) == [] for person in PEOPLE)

    await remind_at(app, clock, TUESDAY)
    assert len(fake_slack.calls_to("conversations.members")) == 1, "inside the window the channel is read"


async def test_a_poll_whose_reminders_all_went_out_is_not_read_again(
    app: RunningApp, fake_slack: FakeSlack, clock: Clock
) -> None:
    await named_two_day_poll(app, fake_slack, clock, MONDAY)

    await remind_at(app, clock, TUESDAY)
    # The next pass finds everyone has answered or been reminded, and their reminders sent.
    await remind_at(app, clock, TUESDAY + timedelta(minutes=10))
    reads = reads_of_people(fake_slack)
    for minutes in range(20, 18 * 60, 10):
        await remind_at(app, clock, TUESDAY + timedelta(minutes=minutes))

    assert reads_of_people(fake_slack) == reads
    assert [len(dms_to(fake_slack, person)) for person in PEOPLE] == [0, 1, 1]
    async with session_scope(app.context.sessions) as session:
        reminder_rows = await session.scalars(
            select(OutboxMessage.id).where(OutboxMessage.idempotency_key.contains(":remind:"))
        )
        assert list(reminder_rows) == [], "sent reminders, which name who had not answered, are forgotten"


async def test_someone_outside_their_working_hours_keeps_the_poll_read_until_their_reminder_goes_out(
    app: RunningApp, fake_slack: FakeSlack, clock: Clock
) -> None:
    fake_slack.add_user("UTOKYO", tz="Asia/Tokyo")
    fake_slack.add_channel(CHANNEL, members=[*PEOPLE, "UTOKYO"])
    await named_two_day_poll(app, fake_slack, clock, MONDAY)

    # 19:00 in Tokyo: Berlin is reminded, Tokyo is not yet.
    await remind_at(app, clock, TUESDAY)
    await remind_at(app, clock, TUESDAY + timedelta(hours=1))
    assert dms_to(fake_slack, "UTOKYO") == []
    # Wednesday 09:30 in Tokyo.
    await remind_at(app, clock, TUESDAY + timedelta(hours=14, minutes=30))
    await remind_at(app, clock, TUESDAY + timedelta(hours=14, minutes=40))
    reads = reads_of_people(fake_slack)
    await remind_at(app, clock, TUESDAY + timedelta(hours=14, minutes=50))

    assert reads_of_people(fake_slack) == reads
    assert [len(dms_to(fake_slack, person)) for person in [*PEOPLE, "UTOKYO"]] == [0, 1, 1, 1]


async def test_someone_in_two_channels_with_polls_is_read_once_a_pass(
    app: RunningApp, fake_slack: FakeSlack, clock: Clock
) -> None:
    fake_slack.add_user("UTOKYO", tz="Asia/Tokyo")
    for channel in (CHANNEL, OTHER_CHANNEL):
        fake_slack.add_channel(channel, members=["UTOKYO"])
        async with session_scope(app.context.sessions) as session:
            outcome, _poll = await start_poll_now(
                session,
                workspace_id=TEAM_ID,
                channel_id=channel,
                now=MONDAY,
                started_by="UANNA",
                open_for=timedelta(days=2),
            )
        assert outcome == "started"

    # 19:00 in Tokyo: both channels are read, and their one member once, to learn it is evening there.
    await remind_at(app, clock, TUESDAY)

    assert len(fake_slack.calls_to("conversations.members")) == 2
    assert fake_slack.calls_to("users.info") == [{"user": "UTOKYO"}]


async def test_a_poll_open_over_the_weekend_is_read_only_once_it_is_a_working_day_somewhere(
    app: RunningApp, fake_slack: FakeSlack, clock: Clock
) -> None:
    friday = MONDAY + timedelta(days=4)
    clock.move_to(friday)
    await command(app, "elephant now open for 6d")
    await eventually(lambda: len(posted_with_key(fake_slack, ":open")) == 1)

    # Sunday 10:00 UTC is in the poll's reminder window and working hours in no time zone on Earth.
    await remind_at(app, clock, friday + timedelta(days=2))
    assert reads_of_people(fake_slack) == 0
    # Sunday 20:00 UTC is Monday 10:00 on Kiritimati: someone in the channel could be there.
    await remind_at(app, clock, friday + timedelta(days=2, hours=10))
    assert len(fake_slack.calls_to("conversations.members")) == 1
    assert all(dms_to(fake_slack, person) == [] for person in PEOPLE), "still Sunday in Berlin"


OTHER_CHANNEL = "CHR"
NOT_HERE = "That poll is not from this channel, or no longer exists."


async def open_poll(app: RunningApp, fake_slack: FakeSlack) -> str:
    """Starts a poll in the channel; returns the poll id its button carries."""
    await command(app, "elephant now two-phase")
    await eventually(lambda: len(posted_with_key(fake_slack, ":open")) == 1)
    return button_value(posted_with_key(fake_slack, ":open")[0], NAME_BUTTON)


async def submissions(app: RunningApp) -> list[str]:
    async with session_scope(app.context.sessions) as session:
        return list(await session.scalars(select(ElephantSubmission.text)))


async def test_a_poll_button_clicked_in_another_channel_is_refused_privately(
    app: RunningApp, fake_slack: FakeSlack
) -> None:
    poll_id = await open_poll(app, fake_slack)

    await press(app, NAME_BUTTON, poll_id, "UBORIS", channel=OTHER_CHANNEL)

    await eventually(lambda: len(fake_slack.ephemerals) == 1)
    [note] = fake_slack.ephemerals
    assert (note["channel"], note["user"], note["text"]) == (OTHER_CHANNEL, "UBORIS", NOT_HERE)
    assert fake_slack.views_opened == []


async def test_a_form_is_answered_only_by_who_opened_it_for_the_channel_it_was_opened_in(
    app: RunningApp, fake_slack: FakeSlack
) -> None:
    poll_id = await open_poll(app, fake_slack)
    form = await click(app, fake_slack, NAME_BUTTON, poll_id, "UANNA")

    someone_else = await submit(app, form, "UBORIS", elephant("Not my form"))
    moved = dict(form, private_metadata=FormOrigin(OTHER_CHANNEL, "UANNA", int(poll_id)).encoded())
    elsewhere = await submit(app, moved, "UANNA", elephant("Sneaked in"))
    other_workspace = await submit(app, form, "UANNA", elephant("From outside"), team="TOTHER")

    assert someone_else["response_action"] == "errors"
    assert "open it again" in someone_else["errors"][TEXT_INPUT]
    assert elsewhere == {"response_action": "errors", "errors": {TEXT_INPUT: "This poll no longer exists."}}
    # Another workspace's form never reaches the poll: the one bot token serves one workspace.
    assert other_workspace["response_action"] == "update"
    assert await submissions(app) == []
    assert (await submit(app, form, "UANNA", elephant("Late handoffs")))["response_action"] == "update"


ODD_IDS = ["", "-1", "²", "٣", str(2**63), str(2**64)]


@pytest.mark.parametrize("value", ODD_IDS)
async def test_a_poll_button_with_an_odd_id_is_refused_without_a_failure(
    app: RunningApp, fake_slack: FakeSlack, caplog: pytest.LogCaptureFixture, value: str
) -> None:
    await press(app, VOTE_BUTTON, value, "UANNA")

    await eventually(lambda: len(fake_slack.ephemerals) == 1)
    assert fake_slack.ephemerals[0]["text"] == NOT_HERE
    assert fake_slack.views_opened == []
    assert failures(caplog) == []


@pytest.mark.parametrize(
    "private_metadata",
    [*ODD_IDS, *(f'{{"channel": "{CHANNEL}", "user": "UANNA", "id": {odd}}}' for odd in ("-1", str(2**64)))],
)
async def test_a_form_with_an_odd_context_is_refused_without_a_failure(
    app: RunningApp, caplog: pytest.LogCaptureFixture, private_metadata: str
) -> None:
    naming = {"callback_id": SUBMIT_FORM, "private_metadata": private_metadata}
    voting = {"callback_id": BALLOT_FORM, "private_metadata": private_metadata}

    assert (await submit(app, naming, "UANNA", elephant("Late handoffs")))["response_action"] == "errors"
    assert (await submit(app, voting, "UANNA", choice("not-a-submission")))["response_action"] == "errors"
    assert await submissions(app) == []
    assert failures(caplog) == []
