"""Forms people fill in without typing formats: a time picked on a clock, a zone from a menu that starts with their
own, people from the directory, reminders ticked. Drawn for Slack and Teams, read back the same from both."""

from __future__ import annotations

from datetime import time
from typing import Any

from bot.slack.blocks import dialog_values
from bot.slack.blocks import render_dialog as slack_dialog
from bot.teams.cards import render_dialog as teams_dialog
from bot.teams.cards import submitted
from habits.form_values import refilled, several_of, time_of
from habits.messages import Checkboxes, Choice, Dialog, PeoplePicker, TimeInput, ZoneSelect
from habits.zone_choices import MOST_OPTIONS

FORM = Dialog(
    callback_id="form",
    title="Form",
    inputs=[
        TimeInput(input_id="at", label="Time", initial="09:30"),
        ZoneSelect(input_id="zone", label="Time zone", own_zone="Asia/Kolkata", initial="Pacific/Chatham"),
        PeoplePicker(input_id="owner", label="Owner", multiple=False, initial=["UANNA"]),
        PeoplePicker(input_id="people", label="People", initial=["UANNA", "UBEN"]),
        Checkboxes(
            input_id="ticks",
            label="Ticks",
            choices=[Choice(value="a", label="A"), Choice(value="b", label="B")],
            initial=["b"],
        ),
    ],
)


def slack_elements(view: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {block["block_id"]: block["element"] for block in view["blocks"] if "element" in block}


def teams_elements(answer: dict[str, Any]) -> dict[str, dict[str, Any]]:
    card = answer["task"]["value"]["card"]["content"]
    return {element["id"]: element for element in card["body"] if "id" in element}


def test_slack_draws_each_picker_with_what_is_already_chosen() -> None:
    elements = slack_elements(slack_dialog(FORM))

    assert elements["at"] == {"type": "timepicker", "action_id": "at", "initial_time": "09:30"}
    zone = elements["zone"]
    assert zone["type"] == "static_select"
    # The person's own zone first, then the one already chosen although no common zone list holds it.
    assert [option["value"] for option in zone["options"][:2]] == ["Asia/Kolkata", "Pacific/Chatham"]
    assert zone["initial_option"]["value"] == "Pacific/Chatham"
    assert len(zone["options"]) <= MOST_OPTIONS
    assert elements["owner"] == {"type": "users_select", "action_id": "owner", "initial_user": "UANNA"}
    assert elements["people"] == {
        "type": "multi_users_select",
        "action_id": "people",
        "initial_users": ["UANNA", "UBEN"],
    }
    assert elements["ticks"]["type"] == "checkboxes"
    assert [option["value"] for option in elements["ticks"]["initial_options"]] == ["b"]


def test_teams_draws_each_picker_as_an_adaptive_card_input() -> None:
    elements = teams_elements(teams_dialog(FORM))

    assert (elements["at"]["type"], elements["at"]["value"]) == ("Input.Time", "09:30")
    zone = elements["zone"]
    assert (zone["type"], zone["style"], zone["value"]) == ("Input.ChoiceSet", "compact", "Pacific/Chatham")
    assert zone["choices"][0] == {"title": "Asia / Kolkata (your time zone)", "value": "Asia/Kolkata"}
    owner, people = elements["owner"], elements["people"]
    assert (owner["isMultiSelect"], owner["choices.data"]["dataset"]) == (False, "graph.microsoft.com/users")
    assert (people["isMultiSelect"], people["value"]) == (True, "UANNA,UBEN")
    ticks = elements["ticks"]
    assert (ticks["type"], ticks["isMultiSelect"], ticks["style"], ticks["value"]) == (
        "Input.ChoiceSet",
        True,
        "expanded",
        "b",
    )


def test_a_form_reads_back_the_same_from_slack_and_from_teams() -> None:
    slack_state = {
        "values": {
            "at": {"at": {"type": "timepicker", "selected_time": "14:45"}},
            "zone": {"zone": {"type": "static_select", "selected_option": {"value": "America/New_York"}}},
            "owner": {"owner": {"type": "users_select", "selected_user": "UBEN"}},
            "people": {"people": {"type": "multi_users_select", "selected_users": ["UANNA", "UCARL"]}},
            "ticks": {"ticks": {"type": "checkboxes", "selected_options": [{"value": "a"}, {"value": "b"}]}},
        }
    }
    [submit] = teams_dialog(FORM)["task"]["value"]["card"]["content"]["actions"]
    # Teams sends every value as a string, several values comma-separated, and a time sometimes with seconds.
    teams_data = {
        **submit["data"],
        "at": "14:45:00",
        "zone": "America/New_York",
        "owner": "UBEN",
        "people": "UANNA,UCARL",
        "ticks": "a,b",
    }

    for values in (dialog_values(slack_state), submitted(teams_data).values):
        assert time_of(values, "at") == time(14, 45)
        assert values["zone"] == "America/New_York"
        assert values["owner"] == "UBEN"
        assert several_of(values, "people") == ["UANNA", "UCARL"]
        assert several_of(values, "ticks") == ["a", "b"]


def test_a_time_that_is_not_one_reads_as_none() -> None:
    for sent in ("24:00", "9", "noon", "", "12:60"):
        assert time_of({"at": sent}, "at") is None
    assert time_of({"at": "9:05"}, "at") == time(9, 5)


def test_a_form_shown_again_holds_what_was_sent() -> None:
    again = refilled(FORM, {"at": "16:00", "zone": "Europe/Oslo", "owner": "UCARL", "people": [], "ticks": ["a"]})

    elements = slack_elements(slack_dialog(again))
    assert elements["at"]["initial_time"] == "16:00"
    assert elements["zone"]["initial_option"]["value"] == "Europe/Oslo"
    assert elements["owner"]["initial_user"] == "UCARL"
    assert "initial_users" not in elements["people"]
    assert [option["value"] for option in elements["ticks"]["initial_options"]] == ["a"]
