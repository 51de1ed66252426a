"""Steering elephant polls through the real app and signed Slack requests: closing early, overlapping naming and
voting, the channel's history, and who may start and stop polls."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest
from sqlalchemy import update

from bot.app import create_app
from bot.settings import Settings
from habits.elephants.messages import APPROVAL_FORM, CHOICE_INPUT, CLOSE_BUTTON, NAME_BUTTON, VOTE_BUTTON
from habits.elephants.overlap import local_day
from habits.workspace_settings import POLL_STEERING
from models.db import session_scope
from models.workspaces import STEERING_ADMINS, STEERING_ANYONE, Workspace, get_or_create_workspace
from scheduler.elephant_jobs import sweep_polls
from tests.conftest import TEAM_ID, RunningApp, eventually, serving, unpaced
from tests.fakes.slack_api import FakeSlack
from tests.handlers.test_elephant_command import (
    CHANNEL,
    Clock,
    button_value,
    click,
    elephant,
    posted_with_key,
    press,
    submit,
)
from tests.handlers.test_home_tab import home_text, open_home
from tests.handlers.test_settings_command import filled_in
from tests.support.signing import slack_form, slack_interaction

PEOPLE = ["UANNA", "UBORIS", "UCHLOE"]
ADMIN = "UADMIN"
NOT_ALLOWED_TO_CLOSE = "only the person who started this poll and workspace admins can close it early"


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
async def app(settings: Settings, fake_slack: FakeSlack, clock: Clock) -> AsyncIterator[RunningApp]:
    for person in PEOPLE:
        fake_slack.add_user(person, tz="Europe/Berlin")
    fake_slack.add_user(ADMIN, tz="Europe/Berlin", is_admin=True)
    fake_slack.add_channel(CHANNEL, members=[*PEOPLE, ADMIN])
    application = create_app(settings, clock=clock, job_sources=[], delivery_policy=unpaced())
    async with serving(application) as running:
        yield running


async def whoelse(app: RunningApp, text: str, *, user: str) -> dict[str, Any]:
    """`/whoelse <text>` from `user` in the channel: the private answer, text and blocks."""
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
    # A command that opens a form answers with a bare acknowledgement.
    answer: dict[str, Any] = response.json() if response.content else {}
    return answer


def has_close_now(answer: dict[str, Any]) -> bool:
    return CLOSE_BUTTON in str(answer.get("blocks") or "")


def ticks(*submission_ids: str) -> dict[str, Any]:
    options = [{"value": submission_id} for submission_id in submission_ids]
    return {CHOICE_INPUT: {CHOICE_INPUT: {"type": "checkboxes", "selected_options": options}}}


def options_of(form: dict[str, Any]) -> dict[str, str]:
    """{elephant text: id} of the checkboxes an approval form offers."""
    return {
        option["text"]["text"].split(". ", 1)[1]: option["value"]
        for option in form["blocks"][-1]["element"]["options"]
    }


async def start(app: RunningApp, fake_slack: FakeSlack, *, user: str = "UANNA", how: str = "") -> str:
    answer = await whoelse(app, f"elephant now {how}".strip(), user=user)
    assert "Started" in answer["text"], answer
    await eventually(lambda: len(posted_with_key(fake_slack, ":open")) == 1)
    return button_value(posted_with_key(fake_slack, ":open")[0], NAME_BUTTON)


async def name_and_vote(app: RunningApp, fake_slack: FakeSlack, poll_id: str, named: dict[str, str]) -> None:
    for person, text in named.items():
        form = await click(app, fake_slack, NAME_BUTTON, poll_id, person)
        assert (await submit(app, form, person, elephant(text)))["response_action"] == "update"
    for person in named:
        ballot = await click(app, fake_slack, VOTE_BUTTON, poll_id, person)
        assert ballot["callback_id"] == APPROVAL_FORM
        first = sorted(options_of(ballot))[0]
        answer = await submit(app, ballot, person, ticks(options_of(ballot)[first]))
        assert answer["response_action"] == "update", answer


async def test_the_starter_closes_a_poll_early_and_the_results_are_posted_at_once(
    app: RunningApp, fake_slack: FakeSlack
) -> None:
    started = await whoelse(app, "elephant now", user="UANNA")
    assert has_close_now(started), "the starter gets Close now in their private confirmation"
    await eventually(lambda: len(posted_with_key(fake_slack, ":open")) == 1)
    [poll_post] = posted_with_key(fake_slack, ":open")
    assert CLOSE_BUTTON not in str(poll_post["blocks"]), "the channel's message never carries Close now"
    poll_id = button_value(poll_post, VOTE_BUTTON)
    await name_and_vote(
        app,
        fake_slack,
        poll_id,
        {
            "UANNA": "Alpha: launches nobody hears of",
            "UBORIS": "Beta: deals sold twice",
            "UCHLOE": "Gamma: no docs",
        },
    )

    assert has_close_now(await whoelse(app, "elephant", user="UANNA"))
    assert not has_close_now(await whoelse(app, "elephant", user="UBORIS"))
    assert NOT_ALLOWED_TO_CLOSE in (await whoelse(app, "elephant close", user="UBORIS"))["text"]
    await press(app, CLOSE_BUTTON, poll_id, "UBORIS")
    await eventually(lambda: len(fake_slack.ephemerals) == 1)
    assert NOT_ALLOWED_TO_CLOSE in fake_slack.ephemerals[0]["text"]
    assert fake_slack.ephemerals[0]["user"] == "UBORIS"
    assert posted_with_key(fake_slack, ":results") == []

    await press(app, CLOSE_BUTTON, poll_id, "UANNA")
    await eventually(lambda: len(posted_with_key(fake_slack, ":results")) == 1)
    [results] = posted_with_key(fake_slack, ":results")
    assert "1. Alpha: launches nobody hears of — *3 votes*" in str(results["blocks"])
    await eventually(lambda: len(fake_slack.ephemerals) == 2)
    assert "Closed the elephant poll" in fake_slack.ephemerals[1]["text"]
    assert "no elephant poll open" in (await whoelse(app, "elephant close", user="UANNA"))["text"]


async def test_an_admin_closes_anyones_poll_and_too_few_people_still_keeps_the_results_hidden(
    app: RunningApp, fake_slack: FakeSlack
) -> None:
    poll_id = await start(app, fake_slack, user="UBORIS")
    form = await click(app, fake_slack, NAME_BUTTON, poll_id, "UANNA")
    await submit(app, form, "UANNA", elephant("Only one of us spoke"))
    assert has_close_now(await whoelse(app, "elephant", user=ADMIN))

    answer = await whoelse(app, "elephant close", user=ADMIN)

    assert "Closed" in answer["text"]
    await eventually(lambda: len(posted_with_key(fake_slack, ":results")) == 1)
    [results] = posted_with_key(fake_slack, ":results")
    assert "Fewer than 3 people took part" in results["text"]
    assert "Only one of us spoke" not in str(results)


async def test_people_who_voted_early_are_told_of_new_elephants_and_vote_on_those_only(
    app: RunningApp, fake_slack: FakeSlack, clock: Clock
) -> None:
    poll_id = await start(app, fake_slack)
    form = await click(app, fake_slack, NAME_BUTTON, poll_id, "UANNA")
    await submit(app, form, "UANNA", elephant("Handoffs get lost"))
    ballot = await click(app, fake_slack, VOTE_BUTTON, poll_id, "UBORIS")
    await submit(app, ballot, "UBORIS", ticks(*options_of(ballot).values()))
    await sweep_polls(app.context)
    await eventually(lambda: len(posted_with_key(fake_slack, ":new-elephants:" + _today(clock))) == 1)
    [note] = posted_with_key(fake_slack, ":new-elephants:" + _today(clock))
    assert note.get("thread_ts") == posted_with_key(fake_slack, ":open")[0]["ts"], "a reply under the poll"

    form = await click(app, fake_slack, NAME_BUTTON, poll_id, "UCHLOE")
    await submit(app, form, "UCHLOE", elephant("Escalations skip the queue"))
    again = await click(app, fake_slack, VOTE_BUTTON, poll_id, "UBORIS")
    assert list(options_of(again)) == ["Escalations skip the queue"], "only what Boris has not judged yet"
    assert (await submit(app, again, "UBORIS", ticks()))["response_action"] == "update"
    done = await click(app, fake_slack, VOTE_BUTTON, poll_id, "UBORIS")
    assert "every elephant named so far" in str(done)

    await sweep_polls(app.context)
    await app.context.delivery.drain()
    assert len([m for m in fake_slack.messages(CHANNEL) if "New elephants" in m["text"]]) == 1, "once a day"


def _today(clock: Clock) -> str:
    """The local day of the workspace, which keeps UTC here."""
    return local_day(clock.now, "UTC").isoformat()


async def test_history_shows_the_channels_last_polls_with_top_elephants_and_turnout(
    app: RunningApp, fake_slack: FakeSlack
) -> None:
    assert "No elephant poll has closed" in (await whoelse(app, "elephant history", user="UBORIS"))["text"]
    poll_id = await start(app, fake_slack)
    await name_and_vote(
        app, fake_slack, poll_id, {"UANNA": "Alpha <@UBORIS>", "UBORIS": "Beta", "UCHLOE": "Gamma"}
    )
    await whoelse(app, "elephant close", user="UANNA")

    history = await whoelse(app, "elephant history", user="UBORIS")

    shown = str(history["blocks"])
    assert "3 elephants named, 3 people voted, 3 took part" in shown
    assert "1. Alpha ‹@UBORIS› — 3 votes" in shown, "the text is shown, unable to ping anyone"
    assert "<@UBORIS>" not in shown


async def test_under_admins_and_the_creator_only_they_start_change_and_stop_polls(
    app: RunningApp, fake_slack: FakeSlack
) -> None:
    async with session_scope(app.context.sessions) as session:
        await get_or_create_workspace(session, workspace_id=TEAM_ID)
        await session.execute(update(Workspace).values(poll_steering=STEERING_ADMINS))

    for refused in ("elephant now", "elephant weekly monday 09:00", "elephant mode two-phase", "elephant off"):
        assert "only workspace admins and whoever set it up" in (await whoelse(app, refused, user="UANNA"))["text"]
    assert "only workspace admins" in (await whoelse(app, "roundtable cancel", user="UANNA"))["text"]

    assert "Done" in (await whoelse(app, "elephant weekly monday 09:00 two-phase", user=ADMIN))["text"]
    assert "two-phase" in (await whoelse(app, "elephant", user="UANNA"))["text"]
    assert "only workspace admins" in (await whoelse(app, "elephant off", user="UANNA"))["text"]
    assert "Stopped" in (await whoelse(app, "elephant off", user=ADMIN))["text"]
    assert posted_with_key(fake_slack, ":open") == []


async def test_an_admin_chooses_who_may_steer_in_the_settings_form_and_it_applies_at_once(
    app: RunningApp, fake_slack: FakeSlack
) -> None:
    await whoelse(app, "settings", user=ADMIN)
    await eventually(lambda: len(fake_slack.views_opened) == 1)
    view = {**fake_slack.views_opened[0]["view"], "id": fake_slack.views_opened[0]["view_id"]}
    [steering] = [block for block in view["blocks"] if block.get("block_id") == POLL_STEERING]
    assert steering["element"]["type"] == "radio_buttons"
    assert steering["element"]["initial_option"]["value"] == STEERING_ANYONE
    admins_only = next(o for o in steering["element"]["options"] if o["value"] == STEERING_ADMINS)
    state = filled_in(view)
    state["values"][POLL_STEERING] = {POLL_STEERING: {"type": "radio_buttons", "selected_option": admins_only}}
    body, headers = slack_interaction(
        {
            "type": "view_submission",
            "team": {"id": TEAM_ID},
            "user": {"id": ADMIN, "team_id": TEAM_ID},
            "api_app_id": "AWHOELSE",
            "view": {**view, "team_id": TEAM_ID, "state": state},
        }
    )
    response = await app.post("/slack/events", body, headers)
    assert response.status_code == 200 and not response.content, response.content

    async with session_scope(app.context.sessions) as session:
        assert (await session.get_one(Workspace, TEAM_ID)).poll_steering == STEERING_ADMINS
    assert "only workspace admins" in (await whoelse(app, "elephant now", user="UANNA"))["text"]
    assert "Started" in (await whoelse(app, "elephant now", user=ADMIN))["text"]
    await eventually(lambda: bool(fake_slack.messages(fake_slack.dm_channel_id(ADMIN))))
    [receipt] = fake_slack.messages(fake_slack.dm_channel_id(ADMIN))
    assert "Workspace admins and whoever set it up" in receipt["text"]


async def test_the_way_a_channels_polls_run_is_set_with_mode_and_mistakes_are_named(
    app: RunningApp, fake_slack: FakeSlack
) -> None:
    assert (
        "no weekly elephant poll to change"
        in (await whoelse(app, "elephant mode two-phase", user="UANNA"))["text"]
    )
    assert (
        "`sideways` is not a way to run a poll"
        in (await whoelse(app, "elephant mode sideways", user="UANNA"))["text"]
    )
    assert "not both" in (await whoelse(app, "elephant now overlap two-phase", user="UANNA"))["text"]
    assert "overlapping" in (await whoelse(app, "elephant weekly friday 16:00", user="UANNA"))["text"]

    changed = await whoelse(app, "elephant mode two-phase", user="UANNA")

    assert "From the next one on" in changed["text"] and "two-phase" in changed["text"]
    poll_id = await start(app, fake_slack)
    naming = await click(app, fake_slack, VOTE_BUTTON, poll_id, "UBORIS")
    assert naming["callback_id"] != APPROVAL_FORM, "a poll started by hand runs the channel's way: two-phase"
    assert posted_with_key(fake_slack, ":open")[0]["blocks"], "the two-phase message"
    assert VOTE_BUTTON not in str(posted_with_key(fake_slack, ":open")[0]["blocks"]), "no Vote while naming"


async def test_an_admin_closes_a_poll_from_the_home_tab_and_is_answered_by_direct_message(
    app: RunningApp, fake_slack: FakeSlack
) -> None:
    poll_id = await start(app, fake_slack, user="UBORIS")
    await open_home(app, ADMIN)
    await eventually(lambda: fake_slack.home_view(ADMIN) is not None, within=15)
    assert CLOSE_BUTTON in home_text(fake_slack, ADMIN)
    await open_home(app, "UANNA")
    await eventually(lambda: fake_slack.home_view("UANNA") is not None, within=15)
    assert CLOSE_BUTTON not in home_text(fake_slack, "UANNA"), "only admins see open polls on their tab"

    for user in ("UANNA", ADMIN):
        body, headers = slack_interaction(
            {
                "type": "block_actions",
                "team": {"id": TEAM_ID},
                "user": {"id": user, "team_id": TEAM_ID},
                "api_app_id": "AWHOELSE",
                "trigger_id": f"trigger-{user}-home",
                "container": {"type": "view", "view_id": "VHOME"},
                "view": {"id": "VHOME", "type": "home"},
                "actions": [{"type": "button", "action_id": CLOSE_BUTTON, "block_id": "home", "value": poll_id}],
            }
        )
        assert (await app.post("/slack/events", body, headers)).status_code == 200
        await eventually(lambda user=user: bool(fake_slack.messages(fake_slack.dm_channel_id(user))))

    [refusal] = fake_slack.messages(fake_slack.dm_channel_id("UANNA"))
    assert NOT_ALLOWED_TO_CLOSE in refusal["text"]
    [closed] = fake_slack.messages(fake_slack.dm_channel_id(ADMIN))
    assert "Closed the elephant poll" in closed["text"]
    await eventually(lambda: len(posted_with_key(fake_slack, ":results")) == 1)
