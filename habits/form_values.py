"""A submitted form's values, as both platforms' readers give them (bot/slack/blocks.py `dialog_values`, bot/teams
/cards.py `submitted`): {input_id: text, list of values, or None}. Read here field by field, whatever the platform
sent, since a submission is outside input like any other."""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import date, time

from habits.messages import (
    Checkboxes,
    ChoiceInput,
    DateInput,
    Dialog,
    PeoplePicker,
    TextInput,
    TimeInput,
    ZoneSelect,
)

FormValues = Mapping[str, str | list[str] | None]

# Slack's time picker sends "14:45"; Teams' "14:45" or, from some clients, "14:45:00".
_CLOCK = re.compile(r"([01]?[0-9]|2[0-3])[:.]([0-5][0-9])(?::[0-5][0-9])?")


def text_of(values: FormValues, input_id: str) -> str:
    value = values.get(input_id)
    return value.strip() if isinstance(value, str) else ""


def several_of(values: FormValues, input_id: str) -> list[str]:
    """The values picked in a field that takes several (people, checkboxes), each once, in order."""
    value = values.get(input_id)
    if isinstance(value, str):
        value = [value]
    return list(dict.fromkeys(item for item in value or [] if isinstance(item, str) and item))


def time_of(values: FormValues, input_id: str) -> time | None:
    """The time of day picked (or typed, "15:00"), or None when there is none or it is not a time."""
    match = _CLOCK.fullmatch(text_of(values, input_id))
    return time(int(match.group(1)), int(match.group(2))) if match else None


def date_of(values: FormValues, input_id: str) -> date | None:
    """The date picked ("2027-01-04", as both platforms' date pickers send it), or None when there is none or it is
    not a date."""
    try:
        return date.fromisoformat(text_of(values, input_id))
    except ValueError:
        return None


def clock(moment: time | None) -> str:
    """A time as the time pickers take it: "09:05"."""
    return moment.strftime("%H:%M") if moment is not None else ""


def refilled(dialog: Dialog, values: FormValues) -> Dialog:
    """The dialog holding what was sent, to show it again with what to fix (Teams closes a dialog on submit; a
    form shown again empty would make people start over)."""
    inputs = []
    for field in dialog.inputs:
        if isinstance(field, Checkboxes | PeoplePicker):
            field = field.model_copy(update={"initial": several_of(values, field.input_id)})
        elif isinstance(field, ChoiceInput):
            field = field.model_copy(update={"initial": text_of(values, field.input_id) or None})
        elif isinstance(field, TimeInput):
            field = field.model_copy(update={"initial": clock(time_of(values, field.input_id))})
        elif isinstance(field, DateInput):
            field = field.model_copy(update={"initial": date_of(values, field.input_id)})
        elif isinstance(field, TextInput | ZoneSelect):
            field = field.model_copy(update={"initial": text_of(values, field.input_id)})
        inputs.append(field)
    return dialog.model_copy(update={"inputs": inputs})
