"""The meeting notes form: free notes, and per elephant on the agenda its pain point, the decision and one action
item with an owner and a due date. Read back into outcomes, or errors per field."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date

from habits.form_origin import FormOrigin
from habits.messages import DateInput, Dialog, Input, PeoplePicker, TextInput
from habits.roundtables.form import MAX_NOTES, NOTES, NOTES_FORM, FormErrors
from habits.roundtables.messages import AgendaElephant

MAX_OUTCOME_TEXT = 500
# What the label shows of an elephant: enough to recognise it.
ELEPHANT_IN_LABEL = 60

PAIN = "pain"
DECISION = "decision"
ACTION = "action"
OWNER = "owner"
DUE = "due"
FIELD_KINDS = (PAIN, DECISION, ACTION, OWNER, DUE)


def field_id(kind: str, elephant: AgendaElephant) -> str:
    """One field per elephant, named by its key: what the form names is read back for this agenda's elephants only."""
    return f"{kind}:{elephant.submission_id}"


@dataclass(frozen=True)
class ActionItemEntry:
    text: str
    owner_id: str
    due_on: date


@dataclass(frozen=True)
class OutcomeEntry:
    elephant: AgendaElephant
    pain_point: str
    decision: str
    action: ActionItemEntry | None

    @property
    def is_empty(self) -> bool:
        return not (self.pain_point or self.decision or self.action)


@dataclass(frozen=True)
class Recorded:
    """What was recorded earlier for one elephant, shown again when the form is reopened."""

    pain_point: str = ""
    decision: str = ""
    action: str = ""
    owner_id: str | None = None
    due_on: date | None = None


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
            TextInput(
                input_id=field_id(ACTION, elephant),
                label=f"{rank}. Action item",
                optional=True,
                initial=earlier.action,
                max_length=MAX_OUTCOME_TEXT,
            ),
            PeoplePicker(
                input_id=field_id(OWNER, elephant),
                label=f"{rank}. Owner",
                multiple=False,
                initial=[earlier.owner_id] if earlier.owner_id else [],
            ),
            DateInput(input_id=field_id(DUE, elephant), label=f"{rank}. Due", initial=earlier.due_on),
        ]
    intro = f"What did the round-table on *{when}* decide? Posted in the channel as the debrief."
    if elephants:
        intro += " For each elephant: the pain point behind it, the decision, and who does what by when."
    return Dialog(
        callback_id=NOTES_FORM,
        title="Round-table notes",
        submit_label="Post debrief",
        context=origin.encoded(),
        intro=intro,
        inputs=inputs,
    )


def read_outcomes(
    values: Mapping[str, str | list[str] | None], *, elephants: Sequence[AgendaElephant], today: date
) -> list[OutcomeEntry]:
    """The outcome per elephant of the agenda; raises FormErrors naming every field to fix.

    An action item needs all three of what, who and by when, and a due date from today on.
    """
    errors: dict[str, str] = {}
    entries: list[OutcomeEntry] = []
    for elephant in elephants:
        action = _text(values, field_id(ACTION, elephant))
        owner = _person(values.get(field_id(OWNER, elephant)))
        due_text = _text(values, field_id(DUE, elephant))
        due = _date(due_text)
        item = None
        if action or owner or due_text:
            if not action:
                errors[field_id(ACTION, elephant)] = "Please say what is to be done, or clear the owner and date."
            if owner is None:
                errors[field_id(OWNER, elephant)] = "Please pick who owns this action item."
            if due is None:
                errors[field_id(DUE, elephant)] = "Please pick the date it is due."
            elif due < today:
                errors[field_id(DUE, elephant)] = "Please pick a date from today on."
            if action and owner is not None and due is not None:
                item = ActionItemEntry(text=action, owner_id=owner, due_on=due)
        for kind in (PAIN, DECISION, ACTION):
            if len(_text(values, field_id(kind, elephant))) > MAX_OUTCOME_TEXT:
                errors[field_id(kind, elephant)] = "Please keep this shorter."
        entries.append(
            OutcomeEntry(
                elephant=elephant,
                pain_point=_text(values, field_id(PAIN, elephant)),
                decision=_text(values, field_id(DECISION, elephant)),
                action=item,
            )
        )
    if errors:
        raise FormErrors(errors)
    return entries


def _text(values: Mapping[str, str | list[str] | None], key: str) -> str:
    value = values.get(key)
    return value.strip() if isinstance(value, str) else ""


def _person(value: str | list[str] | None) -> str | None:
    """Slack sends one user id; a people search sends a list (Teams, or a picker for several)."""
    if isinstance(value, list):
        value = value[0] if len(value) == 1 else None
    return value.strip() or None if isinstance(value, str) else None


def _date(text: str) -> date | None:
    try:
        return date.fromisoformat(text) if text else None
    except ValueError:
        return None
