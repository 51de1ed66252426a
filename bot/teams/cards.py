"""Renders neutral messages and dialogs as Adaptive Cards for Microsoft Teams (what bot/slack/blocks.py does for Slack).

Pure functions: no HTTP, no Slack. Teams shows people by name, so every renderer takes a name lookup (a mapping or a
function from a user, group or channel id to a display name).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from bot.teams.card_text import NO_NAMES, CardText, Names, TextBudget, name_of, plain
from habits.messages import (
    Actions,
    Button,
    Checkboxes,
    Choice,
    ChoiceInput,
    DateInput,
    Dialog,
    Divider,
    Facts,
    Input,
    Message,
    Note,
    Paragraph,
    PeopleMenu,
    PeoplePicker,
    TextInput,
    TimeInput,
    ZoneSelect,
)

CARD_SCHEMA = "http://adaptivecards.io/schemas/adaptive-card.json"
CARD_VERSION = "1.5"
CARD_CONTENT_TYPE = "application/vnd.microsoft.card.adaptive"
# Teams' people search: the org directory, so people not yet in the conversation can be looped in.
PEOPLE_SEARCH = {"type": "Data.Query", "dataset": "graph.microsoft.com/users"}
# Teams refuses messages over about 28 KB (the whole activity, as UTF-8 JSON).
MESSAGE_BYTES_LIMIT = 28 * 1024
# A notification shows a line or two; the rest of the message is in the card.
SUMMARY_LIMIT = 300
# The card's texts may take the rest, less room for the notification text, names and structure.
CARD_BYTES_LIMIT = MESSAGE_BYTES_LIMIT - 4096
# Like a Block Kit section: one paragraph shows at most this much.
TEXT_LIMIT = 3000
# Teams shows at most six buttons in a row.
ACTIONS_PER_SET = 6
# Keys of a dialog's submitted data that are not the inputs: which dialog it was, its round-tripped context, and
# which inputs hold several values (Teams sends those as one comma-separated string).
DIALOG_KEY = "dialog"
CONTEXT_KEY = "context"
LISTS_KEY = "lists"
RESERVED_KEYS = frozenset({DIALOG_KEY, CONTEXT_KEY, LISTS_KEY, "msteams"})
# The key of a button's data that says which button it was, when Teams does not (a dialog-opening Action.Submit).
VERB_KEY = "verb"

__all__ = [
    "CARD_CONTENT_TYPE",
    "CONTEXT_KEY",
    "DIALOG_KEY",
    "LISTS_KEY",
    "VERB_KEY",
    "Names",
    "activity_for",
    "render_answer_dialog",
    "render_dialog",
    "render_message",
    "submitted",
]


def render_message(message: Message, names: Names = NO_NAMES) -> dict[str, Any]:
    """The Adaptive Card for a message's parts; long texts are cut so that it fits in one Teams message."""
    return _fitted(lambda budget: _message_card(message, names, budget))


def render_dialog(
    dialog: Dialog, names: Names = NO_NAMES, errors: Mapping[str, str] | None = None
) -> dict[str, Any]:
    """The answer to a task/fetch invoke that opens the dialog (a Teams task module showing an Adaptive Card), or
    to a task/submit whose fields need fixing: then `errors` ({input_id: what to fix}) shows under each field."""
    card = _fitted(lambda budget: _dialog_card(dialog, names, budget, errors or {}))
    return {
        "task": {
            "type": "continue",
            "value": {
                "title": plain(dialog.title, names)[:100],
                "card": {"contentType": CARD_CONTENT_TYPE, "content": card},
            },
        }
    }


def render_answer_dialog(title: str, message: Message, names: Names = NO_NAMES) -> dict[str, Any]:
    """A dialog's answer shown in the dialog itself, to the person who sent it only (nothing more to send): what
    Slack's render_answer_view does in place of a form."""
    shown = message if message.parts else message.model_copy(update={"parts": [Paragraph(text=message.text)]})
    return {
        "task": {
            "type": "continue",
            "value": {
                "title": plain(title, names)[:100],
                "card": {"contentType": CARD_CONTENT_TYPE, "content": render_message(shown, names)},
            },
        }
    }


def activity_for(message: Message, names: Names = NO_NAMES) -> dict[str, Any]:
    """The Bot Framework message activity that posts a message: its card when it has parts, else its text.

    With a card, the neutral text is the notification (`summary`) and what a client that cannot show cards shows
    (`fallbackText`): as the activity's `text` Teams would show it above the card, saying everything twice.
    """
    if not message.parts:
        text = CardText(names, TextBudget(TEXT_LIMIT))
        activity: dict[str, Any] = {
            "type": "message",
            "textFormat": "markdown",
            "text": text.markdown(message.text, limit=TEXT_LIMIT),
        }
        if text.mentions:
            activity["entities"] = text.mentions
        return activity
    card = render_message(message, names)
    summary = plain(message.text, names)[:SUMMARY_LIMIT]
    card["fallbackText"] = summary
    return {
        "type": "message",
        "summary": summary,
        "attachments": [{"contentType": CARD_CONTENT_TYPE, "content": card}],
    }


def _fitted(build: Callable[[TextBudget], dict[str, Any]]) -> dict[str, Any]:
    # Escaping, names and JSON make the card larger than its texts, by how much depends on the text: rather than
    # guess, the card is rendered again with half the text until it fits.
    budget = MESSAGE_BYTES_LIMIT
    while True:
        card = build(TextBudget(budget))
        if len(json.dumps(card, ensure_ascii=False).encode()) <= CARD_BYTES_LIMIT or budget < 256:
            return card
        budget //= 2


def _card(body: _Body, actions: list[dict[str, Any]]) -> dict[str, Any]:
    card: dict[str, Any] = {
        "type": "AdaptiveCard",
        "$schema": CARD_SCHEMA,
        "version": CARD_VERSION,
        "body": body.elements,
    }
    if actions:
        card["actions"] = actions
    card["msteams"] = {"width": "Full"}
    if body.writer.mentions:
        card["msteams"]["entities"] = body.writer.mentions
    return card


class _Body:
    """Card elements in order; a divider becomes a separator above whatever comes next."""

    def __init__(self, names: Names, budget: TextBudget) -> None:
        self.names = names
        self.writer = CardText(names, budget)
        self.elements: list[dict[str, Any]] = []
        self._separate = False

    def add(self, element: dict[str, Any]) -> None:
        if self._separate:
            element["separator"] = True
            element["spacing"] = "Medium"
            self._separate = False
        self.elements.append(element)

    def divide(self) -> None:
        self._separate = bool(self.elements)

    def text(self, text: str, limit: int = TEXT_LIMIT) -> str:
        return self.writer.markdown(text, limit=limit)

    def text_block(self, text: str, **style: Any) -> None:
        self.add({"type": "TextBlock", "text": self.text(text), "wrap": True, **style})


def _message_card(message: Message, names: Names, budget: TextBudget) -> dict[str, Any]:
    body = _Body(names, budget)
    for part in message.parts:
        if isinstance(part, Paragraph):
            body.text_block(part.text)
        elif isinstance(part, Facts):
            facts = [{"title": body.text(label, 200), "value": body.text(value)} for label, value in part.facts]
            body.add({"type": "FactSet", "facts": facts})
        elif isinstance(part, Note):
            body.text_block(part.text, size="Small", isSubtle=True)
        elif isinstance(part, Divider):
            body.divide()
        elif isinstance(part, Actions):
            _actions(body, part)
        else:  # pragma: no cover - a new part type must be rendered here; the tests enumerate them
            raise TypeError(f"no Adaptive Card for {type(part).__name__}")
    return _card(body, [])


def _actions(body: _Body, part: Actions) -> None:
    actions: list[dict[str, Any]] = []
    for control in part.controls:
        if isinstance(control, PeopleMenu):
            body.add(_people_search(control.action_id, placeholder=plain(control.placeholder, body.names)))
            # Teams has no menu that answers on its own when people are picked: a button sends the choice.
            actions.append(
                _execute(
                    control.action_id,
                    title=plain(control.placeholder, body.names).rstrip("…. ") or "Send",
                    value=control.value,
                    with_inputs=True,
                )
            )
        else:
            actions.append(_button(control, body.names))
    for start in range(0, len(actions), ACTIONS_PER_SET):
        body.add({"type": "ActionSet", "actions": actions[start : start + ACTIONS_PER_SET]})


def _button(button: Button, names: Names) -> dict[str, Any]:
    title = plain(button.label, names)[:75]
    if button.opens_dialog:
        # Teams opens a dialog only from an Action.Submit marked task/fetch (Universal Actions cannot), and then
        # sends the data back in the task/fetch invoke.
        action: dict[str, Any] = {
            "type": "Action.Submit",
            "title": title,
            "data": {"msteams": {"type": "task/fetch"}, VERB_KEY: button.action_id, "value": button.value},
            "associatedInputs": "none",
        }
    else:
        action = _execute(button.action_id, title=title, value=button.value, with_inputs=False)
    if button.style:
        action["style"] = {"primary": "positive", "danger": "destructive"}[button.style]
    return action


def _execute(verb: str, *, title: str, value: str, with_inputs: bool) -> dict[str, Any]:
    return {
        "type": "Action.Execute",
        "title": title[:75],
        "verb": verb,
        "data": {"value": value},
        # A plain button must not carry (or be blocked by) what someone half-typed into the card's inputs.
        "associatedInputs": "auto" if with_inputs else "none",
    }


def _people_search(
    input_id: str, *, placeholder: str = "", initial: list[tuple[str, str]] | None = None, multiple: bool = True
) -> dict[str, Any]:
    element: dict[str, Any] = {
        "type": "Input.ChoiceSet",
        "id": input_id,
        "isMultiSelect": multiple,
        "choices": [{"title": name, "value": person} for person, name in initial or []],
        "choices.data": dict(PEOPLE_SEARCH),
    }
    if placeholder:
        element["placeholder"] = placeholder[:150]
    if initial:
        element["value"] = ",".join(person for person, _ in initial)
    return element


def _dialog_card(dialog: Dialog, names: Names, budget: TextBudget, errors: Mapping[str, str]) -> dict[str, Any]:
    body = _Body(names, budget)
    if dialog.intro:
        body.text_block(dialog.intro)
    for field in dialog.inputs:
        if field.input_id in RESERVED_KEYS:
            raise ValueError(f"input id {field.input_id!r} is reserved for the dialog's own data")
        body.add(_input(field, names))
        if field.input_id in errors:
            body.text_block(errors[field.input_id], color="Attention", size="Small", spacing="None")
    submit = {
        "type": "Action.Submit",
        "title": plain(dialog.submit_label, names)[:75],
        "style": "positive",
        "data": {
            DIALOG_KEY: dialog.callback_id,
            CONTEXT_KEY: dialog.context,
            LISTS_KEY: [field.input_id for field in dialog.inputs if _takes_several(field)],
        },
    }
    return _card(body, [submit])


def _takes_several(field: Input) -> bool:
    return isinstance(field, Checkboxes) or (isinstance(field, PeoplePicker) and field.multiple)


@dataclass(frozen=True)
class Submitted:
    """A dialog as Teams sends it back when someone submits it (the data of the task/submit invoke)."""

    callback_id: str
    context: str
    # {input_id: value}, in the shape Slack's dialog_values gives: a list for inputs that take several values, None
    # for what was left empty.
    values: dict[str, str | list[str] | None]


def submitted(data: Mapping[str, Any]) -> Submitted:
    lists = data.get(LISTS_KEY)
    several = {str(input_id) for input_id in lists} if isinstance(lists, list) else set()
    values: dict[str, str | list[str] | None] = {}
    for key, value in data.items():
        if key in RESERVED_KEYS:
            continue
        text = value if isinstance(value, str) else None
        if key in several:
            values[key] = [item for item in (text or "").split(",") if item]
        else:
            values[key] = text or None
    for input_id in several - values.keys():
        values[input_id] = []
    return Submitted(str(data.get(DIALOG_KEY) or ""), str(data.get(CONTEXT_KEY) or ""), values)


def _input(field: Input, names: Names) -> dict[str, Any]:
    label = plain(field.label, names)[:2000]
    if isinstance(field, TextInput):
        element: dict[str, Any] = {
            "type": "Input.Text",
            "id": field.input_id,
            "isMultiline": field.multiline,
            "maxLength": field.max_length,
        }
        if field.placeholder:
            element["placeholder"] = plain(field.placeholder, names)[:150]
        if field.initial:
            element["value"] = field.initial[: field.max_length]
    elif isinstance(field, ChoiceInput):
        element = _choices(
            field.input_id,
            field.choices,
            names,
            initial=[] if field.initial is None else [field.initial],
            # Radio buttons are "expanded"; a menu is "compact".
            expanded=field.style == "radio",
        )
    elif isinstance(field, ZoneSelect):
        element = _choices(field.input_id, field.choices(), names, initial=[field.initial or field.own_zone])
    elif isinstance(field, Checkboxes):
        element = _choices(field.input_id, field.choices, names, initial=field.initial, expanded=True)
        element["isMultiSelect"] = True
    elif isinstance(field, TimeInput):
        element = {"type": "Input.Time", "id": field.input_id}
        if field.initial:
            element["value"] = field.initial
    elif isinstance(field, PeoplePicker):
        chosen = field.initial if field.multiple else field.initial[:1]
        element = _people_search(
            field.input_id,
            initial=[(person, name_of(person, names) or person) for person in chosen],
            multiple=field.multiple,
        )
    elif isinstance(field, DateInput):
        element = {"type": "Input.Date", "id": field.input_id}
        if field.initial is not None:
            element["value"] = field.initial.isoformat()
    else:  # pragma: no cover - a new input type must be rendered here; the tests enumerate them
        raise TypeError(f"no Adaptive Card input for {type(field).__name__}")
    element["label"] = label
    element["isRequired"] = not field.optional
    if not field.optional:
        element["errorMessage"] = f"{label} is needed."
    return element


def _choices(
    input_id: str, choices: list[Choice], names: Names, *, initial: list[str], expanded: bool = False
) -> dict[str, Any]:
    element: dict[str, Any] = {
        "type": "Input.ChoiceSet",
        "id": input_id,
        "choices": [{"title": plain(choice.label, names)[:75], "value": choice.value} for choice in choices],
        "style": "expanded" if expanded else "compact",
    }
    known = {choice.value for choice in choices}
    chosen = [value for value in initial if value in known]
    if chosen:
        element["value"] = ",".join(chosen)
    return element
