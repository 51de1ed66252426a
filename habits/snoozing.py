"""`/whoelse snooze`: a person asks whoelse to stop pinging them for a while.

While snoozed, automatic nudges name them without an @-mention and reminder DMs skip them (both read
`models.people.snoozed_users`). Snoozes end by themselves; nothing needs to clean them up.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Literal

from sqlalchemy.ext.asyncio import AsyncSession

from habits.messages import Message, command
from habits.time_words import describe_duration, describe_moment, parse_duration
from models.people import snooze, snoozed_until, unsnooze
from models.workspaces import get_or_create_workspace

LONGEST_SNOOZE = timedelta(days=90)
SHORTEST_SNOOZE = timedelta(minutes=1)
USAGE = (
    f"Usage: {command('snooze 30m')}, `4h`, `2d` or `1w` (up to 90 days) to stop whoelse pinging you for a while, "
    f"or {command('snooze off')} to end it early."
)
WHAT_IT_MEANS = "Automatic nudges will name you without pinging you, and you'll get no reminder DMs."


@dataclass(frozen=True)
class SnoozeFor:
    length: timedelta


SnoozeAction = SnoozeFor | Literal["off", "status"]


class SnoozeInputError(ValueError):
    """What the person typed is not a snooze we can set; the message says why, in their words."""


def read_snooze(arguments: str) -> SnoozeAction:
    text = arguments.strip()
    if not text:
        return "status"
    if text.lower() in {"off", "stop", "end", "cancel"}:
        return "off"
    length = parse_duration(text)
    if length is None:
        raise SnoozeInputError(f"I didn't understand `{_quoted(text)}` as a length of time.\n{USAGE}")
    if length < SHORTEST_SNOOZE:
        raise SnoozeInputError(f"A snooze needs to last at least a minute.\n{USAGE}")
    if length > LONGEST_SNOOZE:
        # What they typed, not the length read: sums beyond what time words read are cut short there.
        raise SnoozeInputError(
            f"`{_quoted(text)}` is longer than whoelse snoozes (at most {describe_duration(LONGEST_SNOOZE)}).\n{USAGE}"
        )
    return SnoozeFor(length)


async def apply_snooze(
    session: AsyncSession,
    *,
    workspace_id: str,
    user_id: str,
    action: SnoozeAction,
    now: datetime,
    timezone: str | None,
    default_timezone: str = "UTC",
) -> Message:
    """Carries out the action and says what it means, with times on the person's own clock.

    `timezone` is the person's; without it, times are shown in the workspace's time zone.
    """
    workspace = await get_or_create_workspace(
        session, workspace_id=workspace_id, default_timezone=default_timezone
    )
    timezone = timezone or workspace.timezone
    if action == "status":
        until = await snoozed_until(session, workspace_id=workspace_id, user_id=user_id, now=now)
        if until is None:
            return Message(text=f"You're not snoozed.\n{USAGE}")
        return Message(text=f"You're snoozed {_until(until, now=now, timezone=timezone)}.\n{USAGE}")
    if action == "off":
        was_snoozed = await snoozed_until(session, workspace_id=workspace_id, user_id=user_id, now=now)
        await unsnooze(session, workspace_id=workspace_id, user_id=user_id)
        if was_snoozed is None:
            return Message(text="You weren't snoozed, so nothing changed.")
        return Message(text="Snooze ended: whoelse may ping you again when you're part of a nudge.")
    until = now + action.length
    await snooze(session, workspace_id=workspace_id, user_id=user_id, until=until)
    return Message(
        text=(
            f"Snoozed {_until(until, now=now, timezone=timezone)}. {WHAT_IT_MEANS} "
            f"{command('snooze off')} ends it early."
        )
    )


def _until(until: datetime, *, now: datetime, timezone: str) -> str:
    return f"until {describe_moment(until, now=now, timezone=timezone)}, {describe_duration(until - now)} from now"


def _quoted(text: str) -> str:
    # A backtick inside would end the code span early.
    return text.replace("`", "'")[:40]
