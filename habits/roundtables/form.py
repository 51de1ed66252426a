"""The round-table's two forms: setting it up (read back into a plan, or errors per field) and the meeting notes."""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import time, timedelta

from habits.form_origin import FormOrigin
from habits.form_values import FormValues, several_of, text_of, time_of
from habits.messages import Checkboxes, Choice, ChoiceInput, Dialog, PeoplePicker, TextInput, TimeInput, ZoneSelect
from habits.roundtables.teams import Group
from habits.time_words import describe_duration, known_zone
from models.roundtables import BIWEEKLY, MONTHLY, WEEKLY

SETUP_FORM = "whoelse_roundtable_setup"
NOTES_FORM = "whoelse_roundtable_notes_form"

CADENCE = "cadence"
WEEKDAY = "weekday"
TIME = "time"
TIMEZONE = "timezone"
INVITEES = "invitees"
GROUPS = "groups"
REMINDERS = "reminders"
NOTES = "notes"

WEEKDAYS = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")
ORDINALS = {1: "first", 2: "second", 3: "third", 4: "fourth", -1: "last"}
CADENCE_CHOICES = [
    Choice(value=WEEKLY, label="Every week"),
    Choice(value=BIWEEKLY, label="Every 2 weeks"),
    *(Choice(value=f"{MONTHLY}:{n}", label=f"Monthly, on the {word} weekday") for n, word in ORDINALS.items()),
]
DEFAULT_REMINDERS = (24 * 60, 15)
# The reminders offered, in minutes before the meeting; one stored some other way is offered too, so it is kept.
REMINDER_CHOICES = (7 * 24 * 60, 2 * 24 * 60, 24 * 60, 2 * 60, 60, 30, 15)
# Shorter than this and the reminder arrives as the meeting starts.
MIN_REMINDER = timedelta(minutes=5)
MAX_REMINDERS = 4
# A reminder must come after the meeting before, or it would be taken for that one's.
SHORTEST_GAP = {WEEKLY: timedelta(days=7), BIWEEKLY: timedelta(days=14), MONTHLY: timedelta(days=28)}
MAX_NOTES = 2800


@dataclass(frozen=True)
class RoundTablePlan:
    cadence: str
    weekday: int
    # Monthly only: 1-4, or -1 for the last such weekday of the month.
    week_of_month: int | None
    at: time
    timezone: str
    invitees: tuple[str, ...]
    group_ids: tuple[str, ...]
    reminder_minutes: tuple[int, ...]


class FormErrors(ValueError):
    """What to fix, by field: shown next to each field of the form."""

    def __init__(self, errors: dict[str, str]) -> None:
        super().__init__("; ".join(f"{field}: {problem}" for field, problem in errors.items()))
        self.errors = errors


@dataclass(frozen=True)
class FormDefaults:
    cadence: str = WEEKLY
    weekday: int | None = None
    # "HH:MM", as the time picker shows it.
    at: str = ""
    timezone: str = ""
    # The zone of the person filling in the form, offered first.
    own_zone: str = ""
    invitees: Sequence[str] = ()
    groups: str = ""
    reminder_minutes: Sequence[int] = DEFAULT_REMINDERS


def setup_form(*, origin: FormOrigin, defaults: FormDefaults, changing: bool, with_groups: bool = True) -> Dialog:
    """The set-up form; `with_groups` offers inviting user groups, where the platform has them (Slack)."""
    form = Dialog(
        callback_id=SETUP_FORM,
        title="Change round-table" if changing else "Set up a round-table",
        submit_label="Save",
        context=origin.encoded(),
        intro=(
            "A regular cross-functional round-table: sales, engineering, marketing and support debrief on the "
            "elephant in the room. Reminders come with an agenda and RSVP buttons."
        ),
        inputs=[
            ChoiceInput(input_id=CADENCE, label="How often", choices=CADENCE_CHOICES, initial=defaults.cadence),
            ChoiceInput(
                input_id=WEEKDAY,
                label="Weekday",
                choices=[Choice(value=str(day), label=name) for day, name in enumerate(WEEKDAYS)],
                initial=None if defaults.weekday is None else str(defaults.weekday),
            ),
            TimeInput(input_id=TIME, label="Time", initial=defaults.at),
            ZoneSelect(
                input_id=TIMEZONE,
                label="Time zone",
                own_zone=defaults.own_zone,
                initial=defaults.timezone or defaults.own_zone,
            ),
            PeoplePicker(input_id=INVITEES, label="Invite people", multiple=True, initial=list(defaults.invitees)),
            TextInput(
                input_id=GROUPS,
                label="Invite user groups",
                placeholder="@sales, @support-team",
                optional=True,
                initial=defaults.groups,
                max_length=500,
            ),
            Checkboxes(
                input_id=REMINDERS,
                label="Remind before the meeting",
                choices=reminder_choices(defaults.reminder_minutes),
                initial=[str(minutes) for minutes in defaults.reminder_minutes],
                optional=False,
            ),
        ],
    )
    if not with_groups:
        form.inputs = [field for field in form.inputs if field.input_id != GROUPS]
    return form


def reminder_choices(chosen: Sequence[int]) -> list[Choice]:
    offered = sorted(set(REMINDER_CHOICES) | set(chosen), reverse=True)
    return [
        Choice(value=str(minutes), label=f"{describe_duration(timedelta(minutes=minutes))} before")
        for minutes in offered
    ]


def read_setup_form(values: FormValues, *, known_groups: Sequence[Group]) -> RoundTablePlan:
    """The plan the form describes; raises FormErrors naming every field to fix."""
    errors: dict[str, str] = {}
    cadence, week_of_month = _cadence(_text(values, CADENCE))
    if cadence is None:
        errors[CADENCE] = "Please pick how often the round-table meets."
    # Only the values the form offers: isdigit() would also pass "²", which int() then rejects.
    weekday = {str(day): day for day in range(len(WEEKDAYS))}.get(_text(values, WEEKDAY))
    if weekday is None:
        errors[WEEKDAY] = "Please pick a weekday."
    at = time_of(values, TIME)
    if at is None:
        errors[TIME] = "Please pick the time the round-table starts."
    timezone = _text(values, TIMEZONE)
    if not is_timezone(timezone):
        errors[TIMEZONE] = "Please pick the time zone the round-table keeps."
    group_ids, unknown = resolve_groups(_text(values, GROUPS), known_groups)
    if unknown:
        errors[GROUPS] = f"I can't find the user group {', '.join(unknown)}."
    try:
        reminder_minutes = read_reminders(several_of(values, REMINDERS), cadence=cadence or WEEKLY)
    except ValueError as problem:
        errors[REMINDERS] = str(problem)
        reminder_minutes = ()
    people = tuple(several_of(values, INVITEES))
    if not people and not group_ids and GROUPS not in errors:
        errors[INVITEES] = "Please invite at least one person or user group."
    if errors or cadence is None or weekday is None or at is None:
        raise FormErrors(errors)
    return RoundTablePlan(
        cadence=cadence,
        weekday=weekday,
        week_of_month=week_of_month,
        at=at,
        timezone=timezone,
        invitees=people,
        group_ids=group_ids,
        reminder_minutes=reminder_minutes,
    )


def _text(values: FormValues, key: str) -> str:
    return text_of(values, key)


def _cadence(value: str) -> tuple[str | None, int | None]:
    if value in (WEEKLY, BIWEEKLY):
        return value, None
    kind, _, nth = value.partition(":")
    ordinal = {str(n): n for n in ORDINALS}.get(nth)
    if kind == MONTHLY and ordinal is not None:
        return MONTHLY, ordinal
    return None, None


def is_timezone(name: str) -> bool:
    return known_zone(name) is not None


def resolve_groups(typed: str, known: Sequence[Group]) -> tuple[tuple[str, ...], list[str]]:
    """User group ids for what was typed (ids, handles, with or without @), and whatever matched none."""
    found: list[str] = []
    unknown: list[str] = []
    for word in re.split(r"[\s,]+", typed):
        word = word.strip().lstrip("@")
        if not word:
            continue
        match = next(
            (group for group in known if group.group_id == word or group.handle.lower() == word.lower()), None
        )
        if match is None:
            unknown.append(f"@{word}")
        elif match.group_id not in found:
            found.append(match.group_id)
    return tuple(found), unknown


def read_reminders(ticked: Sequence[str], *, cadence: str) -> tuple[int, ...]:
    """Minutes before the meeting, longest first, from the reminders ticked (each a number of minutes)."""
    if not ticked:
        raise ValueError("Please tick at least one reminder.")
    # Only plain numbers: a forged submission could send anything.
    if not all(re.fullmatch(r"[0-9]{1,6}", value) for value in ticked):
        raise ValueError("Please tick the reminders from the list.")
    longest = SHORTEST_GAP[cadence] - timedelta(days=1)
    minutes = {int(value) for value in ticked}
    if any(not MIN_REMINDER <= timedelta(minutes=span) <= longest for span in minutes):
        raise ValueError(
            f"Each reminder must come between {describe_duration(MIN_REMINDER)} and "
            f"{describe_duration(longest)} before the meeting."
        )
    if len(minutes) > MAX_REMINDERS:
        raise ValueError(f"Up to {MAX_REMINDERS} reminders, please.")
    return tuple(sorted(minutes, reverse=True))
