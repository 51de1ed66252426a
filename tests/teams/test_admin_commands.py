"""`settings` and `status` typed to whoelse on Teams, through the real app: only the admins named in TEAMS_ADMINS
get them (Teams does not tell bots who administers a tenant); the settings form opens as a Teams dialog from the
reply's button, comes back with what to fix, and saves."""

from __future__ import annotations

from typing import Any

import pytest

from habits.workspace_settings import HOURLY_CAP, JUNCTURES, QUIET_END, QUIET_START, TIMEZONE
from handlers.commands.settings import OPEN_SETTINGS_BUTTON
from models.workspaces import Workspace
from tests.teams.activities import TENANT, dialog_fetch, dialog_submit
from tests.teams.scenario import PEOPLE, Teams, by, cards, closing_text, dialog_card, filled, send

JANE, _ = PEOPLE["Jane Doe"]
OMAR, _ = PEOPLE["Omar Haddad"]


@pytest.fixture
def teams(teams_with_admins: Teams) -> Teams:
    return teams_with_admins


async def open_form(teams: Teams, person: str) -> Any:
    opened = by(person, dialog_fetch(OPEN_SETTINGS_BUTTON, {"value": ""}, teams.connector.service_url))
    return await send(teams.app, teams.login, teams.connector, opened)


async def submit(teams: Teams, person: str, data: dict[str, Any]) -> Any:
    activity = by(person, dialog_submit(data, teams.connector.service_url))
    return await send(teams.app, teams.login, teams.connector, activity)


async def workspace(teams: Teams) -> Workspace:
    async with teams.app.context.sessions() as session:
        found = await session.get(Workspace, TENANT)
    assert found is not None
    return found


async def test_an_admin_s_status_shows_the_scheduler_and_delivery(teams: Teams) -> None:
    reply = await teams.type("status")

    assert "Scheduler:" in reply


async def test_someone_not_named_an_admin_is_told_who_can_help_with_settings_and_status(teams: Teams) -> None:
    for command in ("settings", "status"):
        reply = await teams.type(command, person="Omar Haddad")
        assert "only for whoelse's admins on Teams" in reply
        assert "Whoever runs whoelse can make you one" in reply
        teams.connector.sent.clear()


async def test_a_guest_is_no_admin_even_when_named_one(teams: Teams) -> None:
    lena, _ = PEOPLE["Lena Park"]
    teams.connector.add_member(lena, "Lena Park", aadObjectId=lena, tenantId=TENANT, userRole="guest")

    assert "only for whoelse's admins" in await teams.type("status", person="Lena Park")


async def test_settings_typed_by_an_admin_offers_the_form_which_opens_as_a_teams_dialog(teams: Teams) -> None:
    await teams.type("settings")
    [(_, card)] = list(cards(teams.connector))
    [button] = [action for element in card["body"] for action in element.get("actions", [])]

    form = dialog_card(await open_form(teams, "Jane Doe"))

    assert button["data"]["msteams"] == {"type": "task/fetch"} and button["data"]["verb"] == OPEN_SETTINGS_BUTTON
    ids = [element.get("id") for element in form["body"]]
    assert {TIMEZONE, QUIET_START, QUIET_END, HOURLY_CAP, JUNCTURES} <= set(ids)


async def test_a_form_with_mistakes_comes_back_with_what_was_typed_and_what_to_fix(teams: Teams) -> None:
    form = dialog_card(await open_form(teams, "Jane Doe"))

    again = dialog_card(
        await submit(
            teams,
            "Jane Doe",
            filled(form, **{TIMEZONE: "Mars/Olympus", QUIET_START: "", QUIET_END: "", HOURLY_CAP: "4"}),
        )
    )

    shown = " ".join(str(element.get("text", "")) for element in again["body"])
    assert "Pick a time zone from the list." in shown
    values = {element.get("id"): element.get("value") for element in again["body"]}
    # What was typed is kept; a zone that is not on the menu cannot be shown as chosen.
    assert values[HOURLY_CAP] == "4"
    assert (await workspace(teams)).hourly_cap == 6


async def test_a_correct_form_is_saved_and_closes_saying_what_is_now_in_force(teams: Teams) -> None:
    form = dialog_card(await open_form(teams, "Jane Doe"))

    closed = closing_text(
        await submit(
            teams,
            "Jane Doe",
            filled(
                form,
                **{
                    TIMEZONE: "europe/berlin",
                    QUIET_START: "20:00",
                    QUIET_END: "07:30",
                    HOURLY_CAP: "3",
                    JUNCTURES: "deal.closed_won",
                },
            ),
        )
    )

    assert "whoelse settings saved" in closed and "Europe/Berlin" in closed
    # Teams shows the closing message as typed: words, not the markup cards are written in.
    assert closed.startswith("whoelse settings saved.\n• Time zone: Europe/Berlin")
    saved = await workspace(teams)
    assert (saved.timezone, saved.hourly_cap, saved.junctures) == ("Europe/Berlin", 3, ["deal.closed_won"])


async def test_the_form_is_neither_opened_nor_saved_for_someone_not_named_an_admin(teams: Teams) -> None:
    form = dialog_card(await open_form(teams, "Jane Doe"))

    opened = closing_text(await open_form(teams, "Omar Haddad"))
    sent = closing_text(await submit(teams, "Omar Haddad", filled(form, **{TIMEZONE: "UTC", HOURLY_CAP: "1"})))

    assert "only for whoelse's admins" in opened and "only for whoelse's admins" in sent
    assert (await workspace(teams)).hourly_cap == 6


async def test_when_teams_cannot_say_who_someone_is_the_reply_says_so_in_teams_terms(teams: Teams) -> None:
    teams.connector.fail_next(503)
    unreachable = await teams.type("status")
    teams.connector.sent.clear()
    # Not found by their object id, nor in the conversation's member list.
    teams.connector.fail_next(404, times=2)
    unknown = await teams.type("settings")

    assert "couldn't reach Microsoft Teams to check your admin rights" in unreachable
    assert "Microsoft Teams couldn't tell whoelse who you are" in unknown
