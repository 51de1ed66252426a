"""Renders neutral messages and dialogs as Slack Block Kit."""

from __future__ import annotations

import re
from typing import Any

from habits.messages import (
    CHANNEL_MENTION,
    COMMAND,
    GROUP_PREFIX,
    MENTION,
    Actions,
    Button,
    Checkboxes,
    Choice,
    ChoiceInput,
    DateInput,
    Dialog,
    Divider,
    Facts,
    Message,
    Note,
    Paragraph,
    PeopleMenu,
    PeoplePicker,
    TextInput,
    TimeInput,
    ZoneSelect,
)

# Block Kit's limits (https://api.slack.com/reference/block-kit): Slack refuses a whole message or form with one
# text over its limit, so every text is cut to fit here, whatever its source.
SECTION_TEXT_LIMIT = 3000
FIELD_LIMIT = 2000
CONTEXT_TEXT_LIMIT = 3000
BUTTON_LIMIT = 75
OPTION_LIMIT = 75
PLACEHOLDER_LIMIT = 150
LABEL_LIMIT = 2000
VIEW_TITLE_LIMIT = 24
ELLIPSIS = "…"
_ENTITY = re.compile(r"&(?:#[0-9]+|[A-Za-z]+);")


def cut(text: str, limit: int) -> str:
    """The text if it fits, else as much as fits before an "…", never ending inside a <…> mention or link (which
    would show as broken markup) or an &…; escape."""
    if len(text) <= limit:
        return text
    kept = text[: limit - len(ELLIPSIS)]
    opened = kept.rfind("<")
    if opened > kept.rfind(">"):
        kept = kept[:opened]
    ampersand = kept.rfind("&")
    entity = _ENTITY.match(text, ampersand) if ampersand >= 0 else None
    if entity is not None and entity.end() > len(kept):
        kept = kept[:ampersand]
    return kept + ELLIPSIS


# The slash command whoelse answers to (manifest.yml registers it); every command is typed after it.
SLASH_COMMAND = "/whoelse"


def _mention(target: str) -> str:
    if target.startswith(GROUP_PREFIX):
        return f"<!subteam^{target.removeprefix(GROUP_PREFIX)}>"
    return f"<@{target}>"


def _command(syntax: str) -> str:
    # Slack reads <…> as a link or mention, even in code, unless escaped.
    escaped = syntax.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    return f"`{SLASH_COMMAND} {escaped}`"


def mrkdwn(text: str) -> str:
    text = MENTION.sub(lambda match: _mention(match.group(1)), text)
    text = CHANNEL_MENTION.sub(lambda match: f"<#{match.group(1)}>", text)
    return COMMAND.sub(lambda match: _command(match.group(1)), text)


def _plain(text: str, limit: int) -> dict[str, Any]:
    return {"type": "plain_text", "text": cut(text, limit), "emoji": True}


def _mrkdwn(text: str, limit: int) -> dict[str, Any]:
    # Cut after the mentions are written out, since they are what Slack counts.
    return {"type": "mrkdwn", "text": cut(mrkdwn(text), limit)}


def render_message(message: Message) -> tuple[str, list[dict[str, Any]]]:
    blocks: list[dict[str, Any]] = []
    for part in message.parts:
        if isinstance(part, Paragraph):
            blocks.append({"type": "section", "text": _mrkdwn(part.text, SECTION_TEXT_LIMIT)})
        elif isinstance(part, Facts):
            fields = [_mrkdwn(f"*{label}*\n{value}", FIELD_LIMIT) for label, value in part.facts]
            # Slack allows ten fields per section.
            for start in range(0, len(fields), 10):
                blocks.append({"type": "section", "fields": fields[start : start + 10]})
        elif isinstance(part, Note):
            blocks.append({"type": "context", "elements": [_mrkdwn(part.text, CONTEXT_TEXT_LIMIT)]})
        elif isinstance(part, Divider):
            blocks.append({"type": "divider"})
        elif isinstance(part, Actions):
            blocks.append(
                {
                    "type": "actions",
                    "block_id": part.block_id,
                    "elements": [_control(c) for c in part.controls],
                }
            )
    return mrkdwn(message.text), blocks


def _control(control: Button | PeopleMenu) -> dict[str, Any]:
    if isinstance(control, Button):
        button: dict[str, Any] = {
            "type": "button",
            "action_id": control.action_id,
            "text": _plain(control.label, BUTTON_LIMIT),
            "value": control.value,
        }
        if control.style:
            button["style"] = control.style
        return button
    return {
        "type": "multi_users_select",
        "action_id": control.action_id,
        "placeholder": _plain(control.placeholder, PLACEHOLDER_LIMIT),
    }


def render_dialog(dialog: Dialog) -> dict[str, Any]:
    blocks: list[dict[str, Any]] = []
    if dialog.intro:
        blocks.append({"type": "section", "text": _mrkdwn(dialog.intro, SECTION_TEXT_LIMIT)})
    for field in dialog.inputs:
        block: dict[str, Any] = {
            "type": "input",
            "block_id": field.input_id,
            "label": _plain(field.label, LABEL_LIMIT),
        }
        block["optional"] = field.optional
        if isinstance(field, TextInput):
            element: dict[str, Any] = {
                "type": "plain_text_input",
                "action_id": field.input_id,
                "multiline": field.multiline,
                "max_length": field.max_length,
            }
            if field.placeholder:
                element["placeholder"] = _plain(field.placeholder, PLACEHOLDER_LIMIT)
            if field.initial:
                element["initial_value"] = cut(field.initial, field.max_length)
        elif isinstance(field, ChoiceInput):
            element = {
                "type": "radio_buttons" if field.style == "radio" else "static_select",
                "action_id": field.input_id,
            }
            _options(element, field.choices, initial=[] if field.initial is None else [field.initial], single=True)
        elif isinstance(field, ZoneSelect):
            element = {"type": "static_select", "action_id": field.input_id}
            # The zone already chosen, else the person's own (the first choice), is what an untouched form sends.
            _options(element, field.choices(), initial=[field.initial or field.own_zone], single=True)
        elif isinstance(field, Checkboxes):
            element = {"type": "checkboxes", "action_id": field.input_id}
            _options(element, field.choices, initial=field.initial, single=False)
        elif isinstance(field, TimeInput):
            element = {"type": "timepicker", "action_id": field.input_id}
            if field.initial:
                element["initial_time"] = field.initial
        elif isinstance(field, PeoplePicker):
            if field.multiple:
                element = {"type": "multi_users_select", "action_id": field.input_id}
                if field.initial:
                    element["initial_users"] = field.initial
            else:
                element = {"type": "users_select", "action_id": field.input_id}
                if field.initial:
                    element["initial_user"] = field.initial[0]
        elif isinstance(field, DateInput):
            element = {"type": "datepicker", "action_id": field.input_id}
            if field.initial is not None:
                element["initial_date"] = field.initial.isoformat()
        block["element"] = element
        blocks.append(block)
    return {
        "type": "modal",
        "callback_id": dialog.callback_id,
        "title": _plain(dialog.title, VIEW_TITLE_LIMIT),
        "submit": _plain(dialog.submit_label, VIEW_TITLE_LIMIT),
        "close": _plain("Cancel", VIEW_TITLE_LIMIT),
        "private_metadata": dialog.context,
        "blocks": blocks,
    }


def _options(element: dict[str, Any], choices: list[Choice], *, initial: list[str], single: bool) -> None:
    options = [{"text": _plain(choice.label, OPTION_LIMIT), "value": choice.value} for choice in choices]
    element["options"] = options
    # Slack rejects an empty initial_options list, so it is left out when nothing is chosen.
    chosen = [option for option in options if option["value"] in initial]
    if chosen and single:
        element["initial_option"] = chosen[0]
    elif chosen:
        element["initial_options"] = chosen


def render_answer_view(title: str, message: Message) -> dict[str, Any]:
    """A form's answer shown in its place, to the person who sent it only (nothing more to submit)."""
    text, blocks = render_message(message)
    if not blocks:
        blocks = [{"type": "section", "text": {"type": "mrkdwn", "text": cut(text, SECTION_TEXT_LIMIT)}}]
    return {
        "type": "modal",
        "title": _plain(title, VIEW_TITLE_LIMIT),
        "close": _plain("Done", VIEW_TITLE_LIMIT),
        "blocks": blocks,
    }


def dialog_values(view_state: dict[str, Any]) -> dict[str, str | list[str] | None]:
    """Reads a submitted modal back into {input_id: value}, whatever kind of element each input was."""
    values: dict[str, str | list[str] | None] = {}
    for block_id, elements in view_state.get("values", {}).items():
        for element in elements.values():
            kind = element.get("type")
            if kind == "plain_text_input":
                values[block_id] = element.get("value")
            elif kind in ("static_select", "radio_buttons"):
                selected = element.get("selected_option")
                values[block_id] = selected.get("value") if selected else None
            elif kind == "checkboxes":
                values[block_id] = [option["value"] for option in element.get("selected_options") or []]
            elif kind == "multi_users_select":
                values[block_id] = list(element.get("selected_users") or [])
            elif kind == "users_select":
                values[block_id] = element.get("selected_user") or None
            elif kind == "timepicker":
                values[block_id] = element.get("selected_time")
            elif kind == "datepicker":
                values[block_id] = element.get("selected_date") or None
    return values
