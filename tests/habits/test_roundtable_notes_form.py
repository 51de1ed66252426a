"""The notes form on both platforms: per elephant a person picker for the owner and a date picker for the due date,
read back the same way from Slack's and Teams' submissions."""

from __future__ import annotations

from datetime import date
from typing import Any

from bot.slack import blocks as slack
from bot.teams import cards as teams
from habits.form_origin import FormOrigin
from habits.roundtables.agenda import MAX_ELEPHANTS
from habits.roundtables.messages import AgendaElephant
from habits.roundtables.notes_form import MAX_ACTION_ITEMS, ActionItemEntry, Recorded, notes_form, read_outcomes

ELEPHANT = AgendaElephant(
    submission_id="0b5e1c9a-0000-4000-8000-00000000000a", poll_id=7, text="Handoffs", votes=3
)
KEY = ELEPHANT.submission_id
TODAY = date(2026, 12, 8)
# Slack refuses a modal with more blocks than this.
SLACK_MODAL_BLOCKS = 100


def form(recorded: Recorded | None = None) -> Any:
    return notes_form(
        origin=FormOrigin(channel_id="C1", user_id="UCARL", subject_id=3),
        when="Tuesday 8 December 2026, 15:00 CET",
        notes="",
        elephants=[ELEPHANT],
        recorded={KEY: recorded} if recorded else None,
    )


def test_slack_shows_one_owner_and_a_date_and_reads_them_back() -> None:
    earlier = ActionItemEntry(text="Add a field", owner_id="UANNA", due_on=date(2026, 12, 10))
    view = slack.render_dialog(form(Recorded(actions={1: earlier})))
    by_id = {block["block_id"]: block["element"] for block in view["blocks"] if block["type"] == "input"}
    assert by_id[f"owner:{KEY}"] == {"type": "users_select", "action_id": f"owner:{KEY}", "initial_user": "UANNA"}
    assert by_id[f"due:{KEY}"] == {"type": "datepicker", "action_id": f"due:{KEY}", "initial_date": "2026-12-10"}
    assert "Handoffs" in str(view["blocks"])

    state = {
        "values": {
            f"action:{KEY}": {f"action:{KEY}": {"type": "plain_text_input", "value": "Add a field"}},
            f"owner:{KEY}": {f"owner:{KEY}": {"type": "users_select", "selected_user": "UANNA"}},
            f"due:{KEY}": {f"due:{KEY}": {"type": "datepicker", "selected_date": "2026-12-10"}},
        }
    }
    [entry] = read_outcomes(slack.dialog_values(state), elephants=[ELEPHANT], today=TODAY)
    [action] = entry.actions
    assert (action.owner_id, action.due_on) == ("UANNA", date(2026, 12, 10))
    # Nothing picked: None, as for any empty field.
    empty = {"values": {f"due:{KEY}": {f"due:{KEY}": {"type": "datepicker", "selected_date": None}}}}
    assert slack.dialog_values(empty) == {f"due:{KEY}": None}


def test_teams_searches_the_directory_for_one_owner_and_picks_a_date() -> None:
    card = teams.render_dialog(form())["task"]["value"]["card"]["content"]
    by_id = {element["id"]: element for element in card["body"] if "id" in element}
    owner = by_id[f"owner:{KEY}"]
    assert owner["type"] == "Input.ChoiceSet"
    assert owner["isMultiSelect"] is False
    assert owner["choices.data"] == {"type": "Data.Query", "dataset": "graph.microsoft.com/users"}
    assert by_id[f"due:{KEY}"]["type"] == "Input.Date"
    [submit] = card["actions"]
    assert f"owner:{KEY}" not in submit["data"][teams.LISTS_KEY], "one owner is read back as one id, not a list"

    answer = teams.submitted(
        {**submit["data"], f"action:{KEY}": "Add a field", f"owner:{KEY}": "29:1anna", f"due:{KEY}": "2026-12-10"}
    )
    [entry] = read_outcomes(answer.values, elephants=[ELEPHANT], today=TODAY)
    [action] = entry.actions
    assert (action.owner_id, action.due_on) == ("29:1anna", date(2026, 12, 10))


def test_a_full_agenda_with_three_action_item_rows_per_elephant_fits_a_slack_modal() -> None:
    elephants = [
        AgendaElephant(
            submission_id=f"0b5e1c9a-0000-4000-8000-00000000001{rank}", poll_id=7, text="x" * 300, votes=1
        )
        for rank in range(MAX_ELEPHANTS)
    ]
    dialog = notes_form(
        origin=FormOrigin(channel_id="C1", user_id="UCARL", subject_id=3),
        when="Tuesday 8 December 2026, 15:00 CET",
        notes="",
        elephants=elephants,
    )

    view = slack.render_dialog(dialog)
    owners = [block for block in view["blocks"] if block.get("block_id", "").startswith("owner:")]
    assert len(owners) == MAX_ELEPHANTS * MAX_ACTION_ITEMS
    assert len(view["blocks"]) <= SLACK_MODAL_BLOCKS
