"""The meeting notes form: free notes, and per elephant on the agenda its pain point, the decision and up to three
action items, each with an owner and a due date. Read back into outcomes, or errors per field."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date

from habits.form_origin import FormOrigin
from habits.form_values import FormValues, date_of, text_of
from habits.messages import DateInput, Dialog, Input, PeoplePicker, TextInput
from habits.roundtables.form import MAX_NOTES, NOTES, NOTES_FORM, FormErrors
from habits.roundtables.messages import AgendaElephant

MAX_OUTCOME_TEXT = 500
# Action item rows per elephant: enough for a decision that needs a few people, few enough for the form to stay short.
MAX_ACTION_ITEMS = 3
# What the label shows of an elephant: enough to recognise it.
ELEPHANT_IN_LABEL = 60

PAIN = "pain"
DECISION = "decision"
ACTION = "action"
OWNER = "owner"
DUE = "due"
FIELD_KINDS = (PAIN, DECISION, ACTION, OWNER, DUE)


def field_id(kind: str, elephant: AgendaElephant, row: int = 1) -> str:
    """One field per elephant (and per action item row), named by its key: what the form names is read back for
    this agenda's elephants only. The first row's fields carry no row number, as before there were several."""
    return f"{kind}:{elephant.submission_id}" if row == 1 else f"{kind}:{elephant.submission_id}:{row}"


@dataclass(frozen=True)
class ActionItemEntry:
    text: str
    owner_id: str
    due_on: date
    # Its row among the elephant's action items in the form, from 1.
    position: int = 1


@dataclass(frozen=True)
class OutcomeEntry:
    elephant: AgendaElephant
    pain_point: str
    decision: str
    actions: tuple[ActionItemEntry, ...] = ()

    @property
    def is_empty(self) -> bool:
        return not (self.pain_point or self.decision or self.actions)


@dataclass(frozen=True)
class Recorded:
    """What was recorded earlier for one elephant, shown again when the form is reopened."""

    pain_point: str = ""
    decision: str = ""
    # By row.
    actions: Mapping[int, ActionItemEntry] = field(default_factory=dict)


def notes_form(
    *,
    origin: FormOrigin,
    when: str,
    notes: str,
    elephants: Sequence[AgendaElephant] = (),
    recorded: Mapping[str, Recorded] | None = None,
) -> Dialog:
    inputs: list[Input] = [
        TextInput(
            input_id=NOTES,
            label="Notes",
            multiline=True,
            initial=notes,
            max_length=MAX_NOTES,
            optional=bool(elephants),
            placeholder="What was said, what comes next",
        )
    ]
    for rank, elephant in enumerate(elephants, 1):
        earlier = (recorded or {}).get(elephant.submission_id, Recorded())
        name = (
            elephant.text
            if len(elephant.text) <= ELEPHANT_IN_LABEL
            else elephant.text[: ELEPHANT_IN_LABEL - 1] + "…"
        )
        inputs += [
            TextInput(
                input_id=field_id(PAIN, elephant),
                label=f"{rank}. {name} — the pain point",
                optional=True,
                multiline=True,
                initial=earlier.pain_point,
                max_length=MAX_OUTCOME_TEXT,
            ),
            TextInput(
                input_id=field_id(DECISION, elephant),
                label=f"{rank}. Decided",
                optional=True,
                initial=earlier.decision,
                max_length=MAX_OUTCOME_TEXT,
            ),
        ]
        for row in range(1, MAX_ACTION_ITEMS + 1):
            inputs += _action_row(rank, elephant, row, earlier.actions.get(row))
    intro = f"What did the round-table on *{when}* decide? Posted in the channel as the debrief."
    if elephants:
        intro += (
            " For each elephant: the pain point behind it, the decision, and who does what by when"
            f" (up to {MAX_ACTION_ITEMS} action items; leave a row empty to skip it)."
        )
    return Dialog(
        callback_id=NOTES_FORM,
        title="Round-table notes",
        submit_label="Post debrief",
        context=origin.encoded(),
        intro=intro,
        inputs=inputs,
    )


def _action_row(rank: int, elephant: AgendaElephant, row: int, earlier: ActionItemEntry | None) -> list[Input]:
    which = f"{rank}. Action item" if row == 1 else f"{rank}. Action item {row}"
    return [
        TextInput(
            input_id=field_id(ACTION, elephant, row),
            label=which,
            optional=True,
            initial=earlier.text if earlier else "",
            max_length=MAX_OUTCOME_TEXT,
        ),
        PeoplePicker(
            input_id=field_id(OWNER, elephant, row),
            label=f"{which}: owner",
            multiple=False,
            initial=[earlier.owner_id] if earlier else [],
        ),
        DateInput(
            input_id=field_id(DUE, elephant, row),
            label=f"{which}: due",
            initial=earlier.due_on if earlier else None,
        ),
    ]


def read_outcomes(values: FormValues, *, elephants: Sequence[AgendaElephant], today: date) -> list[OutcomeEntry]:
    """The outcome per elephant of the agenda; raises FormErrors naming every field to fix.

    An action item needs all three of what, who and by when, and a due date from today on; an empty row is no
    action item.
    """
    errors: dict[str, str] = {}
    entries: list[OutcomeEntry] = []
    for elephant in elephants:
        actions = [
            item
            for row in range(1, MAX_ACTION_ITEMS + 1)
            if (item := _action_item(values, elephant, row, today=today, errors=errors)) is not None
        ]
        for kind in (PAIN, DECISION):
            if len(text_of(values, field_id(kind, elephant))) > MAX_OUTCOME_TEXT:
                errors[field_id(kind, elephant)] = "Please keep this shorter."
        entries.append(
            OutcomeEntry(
                elephant=elephant,
                pain_point=text_of(values, field_id(PAIN, elephant)),
                decision=text_of(values, field_id(DECISION, elephant)),
                actions=tuple(actions),
            )
        )
    if errors:
        raise FormErrors(errors)
    return entries


def _action_item(
    values: FormValues, elephant: AgendaElephant, row: int, *, today: date, errors: dict[str, str]
) -> ActionItemEntry | None:
    """The row's action item; None when the row is empty or has mistakes (then added to `errors`)."""
    what, who, when = (field_id(kind, elephant, row) for kind in (ACTION, OWNER, DUE))
    action = text_of(values, what)
    owner = _person(values.get(who))
    due_text = text_of(values, when)
    due = date_of(values, when)
    if not (action or owner or due_text):
        return None
    if not action:
        errors[what] = "Please say what is to be done, or clear the owner and date."
    elif len(action) > MAX_OUTCOME_TEXT:
        errors[what] = "Please keep this shorter."
    if owner is None:
        errors[who] = "Please pick who owns this action item."
    if due is None:
        errors[when] = "Please pick the date it is due."
    elif due < today:
        errors[when] = "Please pick a date from today on."
    if what in errors or who in errors or when in errors or owner is None or due is None:
        return None
    return ActionItemEntry(text=action, owner_id=owner, due_on=due, position=row)


def _person(value: str | list[str] | None) -> str | None:
    """Slack sends one user id; a people search sends a list (Teams, or a picker for several)."""
    if isinstance(value, list):
        value = value[0] if len(value) == 1 else None
    return value.strip() or None if isinstance(value, str) else None
