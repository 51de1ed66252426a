"""Where a form was opened, by whom, and about what: written into the form when it opens, checked when it is sent.

A form's context comes back from the platform with the submission, so it is read like any outside value: a form
is only answered for the person who opened it, in the channel it was opened from.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from habits.ids import parse_id
from models.base import PLATFORM_ID_LENGTH

NOT_YOUR_FORM = "This form can't be sent from here. Please open it again from the message in your channel."
# As long as the database keeps them (Teams conversation and user ids run past a hundred characters); anything longer
# did not come from a form whoelse opened.
_LONGEST_PLATFORM_ID = PLATFORM_ID_LENGTH


@dataclass(frozen=True)
class FormOrigin:
    channel_id: str
    user_id: str
    # The nudge, poll or meeting the form answers; None when it is about the channel itself.
    subject_id: int | None = None

    def encoded(self) -> str:
        return json.dumps(
            {"channel": self.channel_id, "user": self.user_id, "id": self.subject_id}, separators=(",", ":")
        )


@dataclass(frozen=True)
class SentForm:
    """A form sent back about one nudge, poll or meeting by the person who opened it, as either platform gives it."""

    workspace_id: str
    user_id: str
    # Where the form was opened, and what it answers.
    channel_id: str
    subject_id: int
    # {input_id: value}: a list for inputs that take several values, None for one left empty.
    values: Mapping[str, str | list[str] | None]


def read_origin(context: object, *, user_id: str, channel_id: str | None = None) -> FormOrigin | None:
    """The origin written into a form, if `context` is one and the form was opened by `user_id` (and, given the
    `channel_id` it is sent from, opened there: Teams says which conversation a dialog is sent from, Slack does
    not); else None."""
    fields = context_fields(context)
    if fields is None:
        return None
    channel, opener, subject = fields.get("channel"), fields.get("user"), fields.get("id")
    if not isinstance(channel, str) or not _platform_id(channel) or opener != user_id:
        return None
    if channel_id is not None and channel != channel_id:
        return None
    if subject is None:
        return FormOrigin(channel_id=channel, user_id=user_id)
    # Written as a JSON number; bool is an int to Python, but never an id.
    if not isinstance(subject, int) or isinstance(subject, bool):
        return None
    subject_id = parse_id(str(subject))
    return None if subject_id is None else FormOrigin(channel_id=channel, user_id=user_id, subject_id=subject_id)


def context_fields(context: object) -> dict[str, Any] | None:
    """The JSON object a form's context holds (its origin, and whatever else the form wrote there), or None."""
    if not isinstance(context, str):
        return None
    try:
        fields = json.loads(context)
    except ValueError:
        return None
    return fields if isinstance(fields, dict) else None


def _platform_id(value: str) -> bool:
    return 0 < len(value) <= _LONGEST_PLATFORM_ID
