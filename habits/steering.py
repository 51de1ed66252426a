"""Who may steer a channel's habits: start, stop and reschedule elephant polls and round-tables, close a poll early.

The workspace chooses between "anyone" (every channel member steers) and "admins and the creator" (workspace admins,
and whoever set the poll's schedule or the round-table up). Closing a poll early is narrower whatever the setting:
only the person who started that poll (for a weekly poll, who set its schedule) and workspace admins may.
"""

from __future__ import annotations

from dataclasses import dataclass

from habits.messages import Message, command
from models.workspaces import STEERING_ADMINS, STEERING_ANYONE

STEERING_LABELS = {
    STEERING_ANYONE: "Anyone in the channel",
    STEERING_ADMINS: "Workspace admins and whoever set it up",
}


@dataclass(frozen=True)
class Steerer:
    """The person asking, as far as rights go."""

    user_id: str
    is_admin: bool


def may_steer(steering: str, steerer: Steerer, *, creator: str | None) -> bool:
    """Whether `steerer` may start, stop or reschedule something `creator` set up (None: nothing set up yet).

    An unknown setting value counts as the stricter one: a typo in the database never opens things up.
    """
    if steering == STEERING_ANYONE or steerer.is_admin:
        return True
    return creator is not None and creator == steerer.user_id


def may_close_early(steerer: Steerer, *, started_by: str | None) -> bool:
    """Whether `steerer` may close a poll before its time: its starter (or its schedule's setter), or an admin."""
    return steerer.is_admin or (started_by is not None and started_by == steerer.user_id)


def not_allowed_to_steer(what: str) -> Message:
    return Message(
        text=(
            f"Sorry, in this workspace only workspace admins and whoever set it up can {what}. "
            f"Ask one of them, or an admin can change who may in {command('settings')}."
        )
    )


def not_allowed_to_close() -> Message:
    return Message(
        text=(
            "Sorry, only the person who started this poll and workspace admins can close it early. "
            "It closes on its own at the time it was given."
        )
    )
