"""The elephant poll on Teams, through the real app: started and scheduled by typing to whoelse, named and voted on
in dialogs, closed with results in the channel, and as anonymous as on Slack."""

from __future__ import annotations

from sqlalchemy import select

from habits.elephants.messages import (
    APPROVAL_FORM,
    CHOICE_INPUT,
    CLOSE_BUTTON,
    NAME_BUTTON,
    QUESTION,
    SUBMIT_FORM,
    TEXT_INPUT,
    VOTE_BUTTON,
)
from habits.elephants.polls import NOT_HERE
from habits.elephants.schedule import next_opening
from habits.form_origin import NOT_YOUR_FORM
from models.db import session_scope
from models.elephants import ElephantSubmission, schedule_for_channel
from models.workspaces import Workspace
from scheduler.elephant_jobs import MISSED_AFTER
from tests.habits.test_elephants import _every_cell
from tests.handlers.test_elephant_command import Clock
from tests.teams.activities import (
    CHANNEL,
    OTHER_TENANT,
    TENANT,
    card_action,
    dialog_fetch,
)
from tests.teams.scenario import (
    OTHER_CONVERSATION,
    PEOPLE,
    Teams,
    action_text,
    button_value,
    by,
    cards,
    closing_text,
    filled,
    in_conversation,
    send,
)

ELEPHANTS = {
    "Jane Doe": "Sales commits dates engineering never saw",
    "Omar Haddad": "Support hears about outages from customers",
    "Lena Park": "Marketing launches before docs exist",
}


async def run_a_poll(teams: Teams, clock: Clock) -> None:
    """A poll started, named by three people, voted on by three, and closed."""
    assert "Started" in await teams.type("elephant now two-phase")
    [poll] = teams.posted(QUESTION)
    poll_id = button_value(poll, NAME_BUTTON)
    for person, elephant in ELEPHANTS.items():
        form = await teams.form(NAME_BUTTON, poll_id, person)
        assert "Thank you" in await teams.submit(filled(form, **{TEXT_INPUT: elephant}), person)

    await teams.move_on(clock, days=1, minutes=1)
    [voting] = teams.posted("Voting is open")
    ballot = await teams.form(VOTE_BUTTON, button_value(voting, VOTE_BUTTON), "Omar Haddad")
    [choices] = [element for element in ballot["body"] if element.get("id") == CHOICE_INPUT]
    options = {choice["title"].split(". ", 1)[1]: choice["value"] for choice in choices["choices"]}
    assert set(options) == set(ELEPHANTS.values())
    outages = options[ELEPHANTS["Omar Haddad"]]
    for person in PEOPLE:
        own = ballot if person == "Omar Haddad" else await teams.form(VOTE_BUTTON, poll_id, person)
        assert "Your vote is counted" in await teams.submit(filled(own, **{CHOICE_INPUT: outages}), person)
    assert "already voted" in await teams.submit(filled(ballot, **{CHOICE_INPUT: outages}), "Omar Haddad")

    await teams.move_on(clock, days=1)
    await teams.move_on(clock, minutes=5)


async def test_a_poll_started_on_teams_is_named_voted_on_and_closed_with_results_in_the_channel(
    tenant: Teams, clock: Clock
) -> None:
    await run_a_poll(tenant, clock)

    [results] = tenant.posted("3 people took part")
    assert "Support hears about outages from customers" in str(results)
    assert all(sent.conversation_id.startswith(CHANNEL) for sent in tenant.connector.activities())
    for _sent, card in cards(tenant.connector):
        for aad, bot_framework_id in PEOPLE.values():
            assert aad not in str(card) and bot_framework_id not in str(card), "nothing posted names a participant"


async def test_after_a_teams_poll_nothing_stored_ties_a_person_to_what_they_named_or_voted_for(
    tenant: Teams, clock: Clock
) -> None:
    await run_a_poll(tenant, clock)

    async with tenant.app.context.sessions() as session:
        cells = await session.run_sync(lambda sync: list(_every_cell(sync.connection())))
    assert any(ELEPHANTS["Lena Park"] in cell for _where, cell in cells), "the scan reads the submissions"
    for where, cell in cells:
        for person, (aad, bot_framework_id) in PEOPLE.items():
            assert aad not in cell and bot_framework_id not in cell, f"{person} is still stored in {where}"


async def test_with_two_people_on_teams_the_results_stay_hidden(tenant: Teams, clock: Clock) -> None:
    await tenant.type("elephant now two-phase")
    [poll] = tenant.posted(QUESTION)
    poll_id = button_value(poll, NAME_BUTTON)
    for person in ["Jane Doe", "Omar Haddad"]:
        form = await tenant.form(NAME_BUTTON, poll_id, person)
        await tenant.submit(filled(form, **{TEXT_INPUT: ELEPHANTS[person]}), person)
    await tenant.move_on(clock, days=2, minutes=1)
    await tenant.move_on(clock, minutes=5)

    assert len(tenant.posted("the results stay hidden")) == 1
    assert all(ELEPHANTS["Jane Doe"] not in str(card) for _sent, card in cards(tenant.connector))


async def test_a_weekly_poll_set_on_teams_opens_in_the_channel_at_its_time_in_the_tenant_s_zone(
    tenant: Teams, clock: Clock
) -> None:
    async with session_scope(tenant.app.context.sessions) as session:
        workspace = await session.get(Workspace, TENANT)
        assert workspace is not None
        workspace.timezone = "Asia/Tokyo"
    # Teams does not say a person's time zone: "09:30" is the tenant's.
    tenant.connector.add_member(PEOPLE["Jane Doe"][0], "Jane Doe")
    reply = await tenant.type("elephant weekly monday 09:30")
    # Teams markdown escapes the brackets: \(Asia/Tokyo\).
    assert "every Monday at 09:30 \\(Asia/Tokyo\\)" in reply
    assert "every Monday at 09:30 \\(Asia/Tokyo\\)" in await tenant.type("elephant")

    async with session_scope(tenant.app.context.sessions) as session:
        schedule = await schedule_for_channel(session, workspace_id=TENANT, channel_id=CHANNEL)
        assert schedule is not None
        opening = next_opening(schedule, clock.now)
    # No weekly job runs in this app: the sweep opens the poll once it is late enough to count as missed.
    await tenant.move_on(clock, seconds=(opening + MISSED_AFTER - clock.now).total_seconds() + 60)
    [poll] = tenant.posted(QUESTION)
    assert button_value(poll, NAME_BUTTON)
    assert "Stopped" in await tenant.type("elephant off")


async def test_a_poll_button_from_another_channel_or_tenant_opens_nothing(tenant: Teams) -> None:
    await tenant.type("elephant now two-phase")
    [poll] = tenant.posted(QUESTION)
    poll_id = button_value(poll, NAME_BUTTON)

    elsewhere = in_conversation(
        OTHER_CONVERSATION, dialog_fetch(NAME_BUTTON, {"value": poll_id}, tenant.connector.service_url)
    )
    other_tenant = dialog_fetch(NAME_BUTTON, {"value": poll_id}, tenant.connector.service_url, tenant=OTHER_TENANT)
    odd = dialog_fetch(NAME_BUTTON, {"value": "not-a-poll"}, tenant.connector.service_url)
    for activity in (elsewhere, other_tenant, odd):
        assert closing_text(await send(tenant.app, tenant.login, tenant.connector, activity)) == NOT_HERE


async def test_a_form_is_answered_only_by_who_opened_it_in_the_channel_it_was_opened_in(tenant: Teams) -> None:
    await tenant.type("elephant now two-phase")
    [poll] = tenant.posted(QUESTION)
    form = await tenant.form(NAME_BUTTON, button_value(poll, NAME_BUTTON), "Jane Doe")
    assert form["actions"][0]["data"]["dialog"] == SUBMIT_FORM
    data = filled(form, **{TEXT_INPUT: "Nobody owns onboarding"})

    assert await tenant.submit(data, "Omar Haddad") == NOT_YOUR_FORM
    assert await tenant.submit(data, "Jane Doe", conversation=OTHER_CONVERSATION) == NOT_YOUR_FORM
    assert await tenant.submit({**data, "context": "{not json"}, "Jane Doe") == NOT_YOUR_FORM
    async with session_scope(tenant.app.context.sessions) as session:
        assert list(await session.scalars(select(ElephantSubmission.text))) == []


async def test_an_overlapping_poll_on_teams_is_voted_on_as_named_and_closed_early_only_by_its_starter(
    tenant: Teams,
) -> None:
    assert "Started" in await tenant.type("elephant now", "Jane Doe")
    [poll] = tenant.posted(QUESTION)
    poll_id = button_value(poll, VOTE_BUTTON)
    for person, elephant in ELEPHANTS.items():
        form = await tenant.form(NAME_BUTTON, poll_id, person)
        assert "Thank you" in await tenant.submit(filled(form, **{TEXT_INPUT: elephant}), person)
        ballot = await tenant.form(VOTE_BUTTON, poll_id, person)
        assert ballot["actions"][0]["data"]["dialog"] == APPROVAL_FORM
        [choices] = [element for element in ballot["body"] if element.get("id") == CHOICE_INPUT]
        ticked = ",".join(choice["value"] for choice in choices["choices"])
        assert "Your votes are counted" in await tenant.submit(filled(ballot, **{CHOICE_INPUT: ticked}), person)

    def close_now(person: str) -> dict[str, object]:
        return by(person, card_action(CLOSE_BUTTON, {"value": poll_id}, tenant.connector.service_url))

    refused = await send(tenant.app, tenant.login, tenant.connector, close_now("Omar Haddad"))
    assert "only the person who started this poll" in action_text(refused)
    assert tenant.posted("people took part") == []
    closed = await send(tenant.app, tenant.login, tenant.connector, close_now("Jane Doe"))
    assert "Closed the elephant poll" in action_text(closed)
    await tenant.app.context.delivery.drain()
    [results] = tenant.posted("3 people took part")
    # Each ticked everything there was when they voted: Jane's elephant got three votes, Omar's two, Lena's one.
    shown = str(results)
    assert "3 votes" in shown and "2 votes" in shown and "1 vote" in shown
    places = [shown.index(ELEPHANTS[person]) for person in ("Jane Doe", "Omar Haddad", "Lena Park")]
    assert places == sorted(places)
