"""A channel's weekly elephant poll: reading `/whoelse elephant weekly …`, saving it, and saying when polls happen."""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, time, timedelta
from typing import Literal

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from habits.elephants.polls import DEFAULT_OPEN_FOR, MAX_OPEN_FOR, MIN_OPEN_FOR, open_poll, scheduled_key
from habits.messages import Message, command
from habits.recurrence import Recurrence, describe, next_occurrence, previous_occurrence
from habits.time_words import describe_duration, describe_moment, known_zone, parse_duration
from models.elephants import (
    NAMING,
    OVERLAP,
    TWO_PHASE,
    ElephantSchedule,
    OpeningWindow,
    open_poll_in_channel,
    poll_by_key,
    schedule_for_channel,
)
from models.workspaces import get_or_create_workspace

# What people type, in English whatever the server's locale.
WEEKDAY_WORDS = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")
CLOCK = re.compile(r"^(\d{1,2})[:.](\d{2})$")

WEEKLY_SYNTAX = "elephant weekly <weekday> <HH:MM> [time zone] [overlap|two-phase] [open for 2d]"
NOW_SYNTAX = "elephant now [overlap|two-phase] [open for 2d]"
MODE_SYNTAX = "elephant mode overlap|two-phase"
MODE_WORDS = {"overlap": OVERLAP, "overlapping": OVERLAP, "two-phase": TWO_PHASE, "two-phased": TWO_PHASE}
MODE_NAMES = {
    OVERLAP: "overlapping (name and vote at the same time)",
    TWO_PHASE: "two-phase (name first, then vote)",
}
WEEKLY_USAGE = f"{command(WEEKLY_SYNTAX)}, e.g. `monday 09:00 Europe/Berlin`"
NOW_USAGE = command(NOW_SYNTAX)
MODE_USAGE = command(MODE_SYNTAX)

OpenOutcome = Literal["opened", "already_opened", "not_due", "too_late", "channel_busy", "no_schedule"]


class ScheduleError(ValueError):
    """What was typed cannot be understood; the message says what to type instead."""


@dataclass(frozen=True)
class WeeklyPlan:
    weekday: int
    at: time
    timezone: str
    open_for: timedelta
    mode: str | None = None


def parse_weekday(word: str) -> int:
    word = word.lower().rstrip("s") if word.lower().endswith("days") else word.lower()
    matches = [index for index, name in enumerate(WEEKDAY_WORDS) if len(word) >= 3 and name.startswith(word)]
    if len(matches) != 1:
        raise ScheduleError(f"I don't know the weekday `{word}`. Try {WEEKLY_USAGE}.")
    return matches[0]


def parse_clock(word: str) -> time:
    match = CLOCK.match(word)
    if match is None or int(match.group(1)) > 23 or int(match.group(2)) > 59:
        raise ScheduleError(f"`{word}` is not a time of day like 09:00. Try {WEEKLY_USAGE}.")
    return time(int(match.group(1)), int(match.group(2)))


def parse_timezone(word: str) -> str:
    if known_zone(word) is None:
        raise ScheduleError(f"`{word}` is not a time zone I know; use an IANA name such as Europe/Berlin.")
    return word


def parse_mode(word: str) -> str:
    mode = MODE_WORDS.get(word.lower())
    if mode is None:
        raise ScheduleError(f"`{word}` is not a way to run a poll. Try {MODE_USAGE}.")
    return mode


def split_mode(words: list[str]) -> tuple[str | None, list[str]]:
    """The `overlap`/`two-phase` word among `words`, if any, and the other words."""
    modes = [MODE_WORDS[word.lower()] for word in words if word.lower() in MODE_WORDS]
    if len(modes) > 1:
        raise ScheduleError(f"A poll runs one way: `overlap` or `two-phase`, not both. Try {MODE_USAGE}.")
    return (modes[0] if modes else None), [word for word in words if word.lower() not in MODE_WORDS]


def parse_open_for(words: list[str]) -> timedelta:
    """`open for 2d`, `for 36h`, `1d 12h` or nothing (the default of two days)."""
    if words[:1] == ["open"]:
        words = words[1:]
    if words[:1] == ["for"]:
        words = words[1:]
    if not words:
        return DEFAULT_OPEN_FOR
    span = parse_duration(" ".join(words))
    if span is None:
        raise ScheduleError(f"`{' '.join(words)}` is not a duration like `2d` or `36h`.")
    if not MIN_OPEN_FOR <= span <= MAX_OPEN_FOR:
        raise ScheduleError(
            f"A poll stays open between {describe_duration(MIN_OPEN_FOR)} and {describe_duration(MAX_OPEN_FOR)} "
            "(it has to close before next week's opens)."
        )
    return span


def parse_weekly(arguments: str, *, default_timezone: str) -> WeeklyPlan:
    words = arguments.split()
    if len(words) < 2:
        raise ScheduleError(f"When should the weekly poll open? {WEEKLY_USAGE}.")
    weekday, at = parse_weekday(words[0]), parse_clock(words[1])
    mode, rest = split_mode(words[2:])
    timezone = default_timezone
    if rest and ("/" in rest[0] or rest[0].upper() == "UTC"):
        timezone = parse_timezone(rest[0])
        rest = rest[1:]
    return WeeklyPlan(weekday=weekday, at=at, timezone=timezone, open_for=parse_open_for(rest), mode=mode)


async def set_weekly(
    session: AsyncSession, *, workspace_id: str, channel_id: str, plan: WeeklyPlan, now: datetime, set_by: str
) -> ElephantSchedule:
    """Creates or changes the channel's weekly poll; it starts with the first opening after `now`.

    Whoever sets it becomes its creator: the one (with admins) who may close its polls early.
    """
    await get_or_create_workspace(session, workspace_id=workspace_id)
    schedule = await schedule_for_channel(session, workspace_id=workspace_id, channel_id=channel_id)
    if schedule is None:
        schedule = ElephantSchedule(workspace_id=workspace_id, channel_id=channel_id, created_at=now, mode=OVERLAP)
        session.add(schedule)
    schedule.created_by = set_by
    if plan.mode is not None:
        schedule.mode = plan.mode
    schedule.weekday = plan.weekday
    schedule.time_of_day = plan.at
    schedule.timezone = plan.timezone
    schedule.open_minutes = round(plan.open_for.total_seconds() / 60)
    schedule.active = True
    schedule.effective_from = now
    await session.flush()
    return schedule


async def set_mode(session: AsyncSession, *, workspace_id: str, channel_id: str, mode: str) -> bool:
    """Sets how the channel's weekly polls run from the next one on; False when the channel has no weekly poll."""
    schedule = await schedule_for_channel(session, workspace_id=workspace_id, channel_id=channel_id)
    if schedule is None or not schedule.active:
        return False
    schedule.mode = mode
    await session.flush()
    return True


async def stop_weekly(session: AsyncSession, *, workspace_id: str, channel_id: str) -> bool:
    """Returns False when the channel had no weekly poll running."""
    schedule = await schedule_for_channel(session, workspace_id=workspace_id, channel_id=channel_id)
    if schedule is None or not schedule.active:
        return False
    schedule.active = False
    await session.flush()
    return True


def open_for(schedule: ElephantSchedule) -> timedelta:
    return timedelta(minutes=schedule.open_minutes)


def recurrence_of(schedule: ElephantSchedule) -> Recurrence:
    return Recurrence(
        cadence="weekly",
        weekday=schedule.weekday,
        at=schedule.time_of_day,
        tz=schedule.timezone,
        anchor=schedule.effective_from.date(),
    )


def latest_opening(schedule: ElephantSchedule, now: datetime) -> datetime:
    """The most recent weekly opening at or before `now`."""
    opening = previous_occurrence(recurrence_of(schedule), now)
    # A weekly recurrence always has one within the last week.
    assert opening is not None
    return opening


def next_opening(schedule: ElephantSchedule, now: datetime) -> datetime:
    return next_occurrence(recurrence_of(schedule), now)


def weekly_confirmation(schedule: ElephantSchedule, *, now: datetime) -> Message:
    first = describe_moment(next_opening(schedule, now), now=now, timezone=schedule.timezone)
    return Message(
        text=(
            f"Done: {describe(recurrence_of(schedule))} this channel gets an anonymous elephant-in-the-room poll, "
            f"open for {describe_duration(open_for(schedule))}, {MODE_NAMES[schedule.mode]}. "
            f"The first one opens {first}."
        )
    )


async def overview(session: AsyncSession, *, workspace_id: str, channel_id: str, now: datetime) -> Message:
    """`/whoelse elephant`: this channel's weekly poll and the poll open now, if any."""
    schedule = await schedule_for_channel(session, workspace_id=workspace_id, channel_id=channel_id)
    current = await open_poll_in_channel(session, workspace_id=workspace_id, channel_id=channel_id)
    lines = []
    if schedule is not None and schedule.active:
        upcoming = describe_moment(next_opening(schedule, now), now=now, timezone=schedule.timezone)
        lines.append(
            f"*Weekly poll:* {describe(recurrence_of(schedule))}, open for {describe_duration(open_for(schedule))}, "
            f"{MODE_NAMES.get(schedule.mode, schedule.mode)}. Next one opens {upcoming}."
        )
    else:
        lines.append("*No weekly poll* in this channel. Set one with " + WEEKLY_USAGE + ".")
    zone = (
        schedule.timezone
        if schedule is not None
        else (await get_or_create_workspace(session, workspace_id=workspace_id)).timezone
    )
    if current is None:
        lines.append("*Open now:* no poll. Start one with " + NOW_USAGE + ".")
    elif current.mode == OVERLAP:
        closes = describe_moment(current.closes_at, now=now, timezone=zone)
        lines.append(f"*Open now:* naming and voting until {closes}.")
    elif current.phase == NAMING and now < current.voting_opens_at:
        closes = describe_moment(current.voting_opens_at, now=now, timezone=zone)
        lines.append(f"*Open now:* naming elephants until {closes}, then voting.")
    else:
        closes = describe_moment(current.closes_at, now=now, timezone=zone)
        lines.append(f"*Open now:* voting until {closes}.")
    return Message(text="\n".join(lines))


def opening_due(schedule: ElephantSchedule, now: datetime, *, grace: timedelta) -> datetime | None:
    """The weekly opening that should have a poll by now, or None (not yet started, or too long ago to matter)."""
    opening = latest_opening(schedule, now)
    if opening < schedule.effective_from or now - opening > grace:
        return None
    return opening


# Wall-clock time moves against UTC by at most an hour at a DST change: windows are widened by that much.
DST_MARGIN = timedelta(hours=1)


def opening_windows(timezones: Iterable[str], *, earliest: datetime, latest: datetime) -> list[OpeningWindow]:
    """The weekdays and times of day, per time zone, of every weekly opening between `earliest` and `latest`.

    A superset (widened for DST changes, split at local midnight) for the database to narrow schedules down with;
    `opening_due` decides exactly. An unknown time zone gets no window: such a schedule never opens anyway.
    """
    windows = []
    for timezone in sorted(set(timezones)):
        zone = known_zone(timezone)
        if zone is None:
            continue
        start = (earliest - DST_MARGIN).astimezone(zone).replace(tzinfo=None)
        end = (latest + DST_MARGIN).astimezone(zone).replace(tzinfo=None)
        day = start.date()
        while day <= end.date():
            windows.append(
                OpeningWindow(
                    timezone=timezone,
                    weekday=day.weekday(),
                    earliest=start.time() if day == start.date() else time.min,
                    latest=end.time() if day == end.date() else time.max,
                )
            )
            day += timedelta(days=1)
    return windows


def missed_opening(schedule: ElephantSchedule, now: datetime, *, grace: timedelta, wait: timedelta) -> bool:
    """Whether the schedule's opening is due and has been for `wait`, long enough for its weekly job to have run."""
    opening = opening_due(schedule, now, grace=grace)
    return opening is not None and now - opening >= wait


async def open_scheduled_poll(
    session: AsyncSession, *, workspace_id: str, schedule_id: int, now: datetime, grace: timedelta
) -> OpenOutcome:
    """Opens this week's poll for the schedule if it is due and not open yet. Safe to repeat and to race."""
    schedule = await session.scalar(
        select(ElephantSchedule).where(
            ElephantSchedule.workspace_id == workspace_id, ElephantSchedule.id == schedule_id
        )
    )
    if schedule is None or not schedule.active:
        return "no_schedule"
    opening = latest_opening(schedule, now)
    if opening < schedule.effective_from:
        return "not_due"
    key = scheduled_key(schedule.id, opening)
    if await poll_by_key(session, workspace_id=workspace_id, key=key) is not None:
        return "already_opened"
    if now - opening > grace:
        return "too_late"
    if await open_poll_in_channel(session, workspace_id=workspace_id, channel_id=schedule.channel_id) is not None:
        return "channel_busy"
    _poll, created = await open_poll(
        session,
        workspace_id=workspace_id,
        channel_id=schedule.channel_id,
        key=key,
        now=now,
        open_for=open_for(schedule),
        schedule_id=schedule.id,
        mode=schedule.mode,
    )
    return "opened" if created else "already_opened"
