"""The types Slack's payloads give the fields Bolt and whoelse read, checked before Bolt reads them.

Bolt indexes into these fields while it builds a request's context and matches listeners; a field of another type
(`"team": 5`) raises inside Bolt and becomes a 500 with a traceback. Slack never sends such a body, so one that is
signed with the real secret and still has them is refused with the first field that is wrong.
"""

from __future__ import annotations

from typing import Any

# Fields that hold an id, a name or a word; their values are strings (or absent, or null).
TEXT_FIELDS = (
    "type",
    "token",
    "team_id",
    "enterprise_id",
    "user_id",
    "channel_id",
    "api_app_id",
    "trigger_id",
    "response_url",
    "callback_id",
    "command",
    "text",
    "event_id",
)
# Fields that hold either an id or an object with an `id` (Slack uses both shapes across payload kinds).
ID_OR_OBJECT_FIELDS = ("team", "enterprise", "user", "channel")
OBJECT_FIELDS = ("event", "view", "container", "message", "state", "function_data", "bot_access_token")
LIST_OF_OBJECTS_FIELDS = ("actions", "authorizations")
# Every slash command Slack sends says where it was typed and by whom.
SLASH_COMMAND_FIELDS = ("team_id", "channel_id", "user_id")
ACTION_TEXT_FIELDS = ("action_id", "block_id", "type", "value", "action_ts")


def shape_problem(document: dict[str, Any]) -> str | None:
    """Why the body is not shaped like any Slack payload, naming the field; None when it is."""
    problem = _fields_problem(document, where="")
    if problem is not None:
        return problem
    if document.get("command") is not None:
        missing = [name for name in SLASH_COMMAND_FIELDS if not document.get(name)]
        if missing:
            return f"a slash command needs {', '.join(missing)}"
    event = document.get("event")
    if isinstance(event, dict):
        problem = _fields_problem(event, where="event.")
        if problem is not None:
            return problem
    view = document.get("view")
    if isinstance(view, dict):
        return _view_problem(view)
    return None


def _fields_problem(fields: dict[str, Any], *, where: str) -> str | None:
    for name in TEXT_FIELDS:
        if fields.get(name) is not None and not isinstance(fields[name], str):
            return f"{where}{name} must be a string"
    for name in ID_OR_OBJECT_FIELDS:
        value = fields.get(name)
        if value is None or isinstance(value, str):
            continue
        if not isinstance(value, dict):
            return f"{where}{name} must be an id or an object"
        if value.get("id") is not None and not isinstance(value["id"], str):
            return f"{where}{name}.id must be a string"
    for name in OBJECT_FIELDS:
        if fields.get(name) is not None and not isinstance(fields[name], dict):
            return f"{where}{name} must be an object"
    for name in LIST_OF_OBJECTS_FIELDS:
        value = fields.get(name)
        if value is None:
            continue
        if not isinstance(value, list) or not all(isinstance(item, dict) for item in value):
            return f"{where}{name} must be a list of objects"
        if name == "actions":
            if not value and fields.get("type") == "block_actions":
                return f"{where}actions must not be empty in a block_actions payload"
            for action in value:
                for field in ACTION_TEXT_FIELDS:
                    if action.get(field) is not None and not isinstance(action[field], str):
                        return f"{where}actions[].{field} must be a string"
    if "is_enterprise_install" in fields and not isinstance(fields["is_enterprise_install"], bool | None):
        return f"{where}is_enterprise_install must be true or false"
    return None


def _view_problem(view: dict[str, Any]) -> str | None:
    for name in ("id", "type", "callback_id", "private_metadata", "hash", "team_id", "app_id"):
        if view.get(name) is not None and not isinstance(view[name], str):
            return f"view.{name} must be a string"
    state = view.get("state")
    if state is None:
        return None
    if not isinstance(state, dict):
        return "view.state must be an object"
    values = state.get("values")
    if values is None:
        return None
    if not isinstance(values, dict) or not all(
        isinstance(block, dict) and all(isinstance(element, dict) for element in block.values())
        for block in values.values()
    ):
        return "view.state.values must map blocks to objects of inputs"
    return None
