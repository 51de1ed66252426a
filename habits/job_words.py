"""Scheduled jobs in words for `/whoelse status`: "Round-table reminder, #sales-eng, Tue 14:30 New York time",
"Monthly digest, #sales-eng, Mon 1 Feb 09:00 Berlin time".

A job's id says what it is (`roundtable:12:reminder:15@…`); what it is about (the channel, the zone its time keeps)
is read from the round-table or poll schedule it runs for, in the asking workspace only.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy.ext.asyncio import AsyncSession

from habits.ids import parse_id
from habits.messages import channel_mention
from habits.roundtables.follow_up import DIGEST_SWEEP, REMINDER_SWEEP, SWEEP_EVERY, reminders_waiting
from habits.time_words import describe_duration, zone_or_utc
from models.elephants import ElephantSchedule
from models.roundtables import RoundTable

# Further than this ahead, the weekday alone would be ambiguous: the date is added.
WITHIN_A_WEEK = timedelta(days=6)


@dataclass(frozen=True)
class JobInWords:
    what: str
    # Where it posts, and the zone its time keeps; None when the job is not about one channel.
    channel_id: str | None
    timezone: str | None


# Reads a job's name (without its schedule fingerprint), split at ":", into words; None when it is not this kind or
# what it runs for is gone (or another workspace's).
Describer = Callable[[AsyncSession, str, list[str]], Awaitable[JobInWords | None]]


async def _roundtable_reminder(session: AsyncSession, workspace_id: str, parts: list[str]) -> JobInWords | None:
    if len(parts) != 4 or parts[2] != "reminder":
        return None
    roundtable_id, minutes = parse_id(parts[1]), parse_id(parts[3])
    roundtable = await session.get(RoundTable, roundtable_id) if roundtable_id is not None else None
    if roundtable is None or roundtable.workspace_id != workspace_id or minutes is None:
        return None
    before = describe_duration(timedelta(minutes=minutes))
    return JobInWords(f"Round-table reminder ({before} before)", roundtable.channel_id, roundtable.timezone)


async def _elephant_poll_opens(session: AsyncSession, workspace_id: str, parts: list[str]) -> JobInWords | None:
    if len(parts) != 3 or parts[2] != "open":
        return None
    schedule_id = parse_id(parts[1])
    schedule = await session.get(ElephantSchedule, schedule_id) if schedule_id is not None else None
    if schedule is None or schedule.workspace_id != workspace_id:
        return None
    return JobInWords("Elephant poll opens", schedule.channel_id, schedule.timezone)


async def _follow_up(session: AsyncSession, workspace_id: str, parts: list[str]) -> JobInWords | None:
    """The follow-up sweeps as they concern this workspace: its owners' reminders, or one round-table's digest."""
    if parts == REMINDER_SWEEP.split(":"):
        waiting = await reminders_waiting(session, workspace_id=workspace_id)
        every = describe_duration(SWEEP_EVERY)
        items = f"{waiting} action item{'' if waiting == 1 else 's'}"
        return JobInWords(f"Reminders to action item owners (checked every {every}; {items} waiting)", None, None)
    if len(parts) != 3 or parts[:2] != DIGEST_SWEEP.split(":"):
        return None
    roundtable_id = parse_id(parts[2])
    roundtable = await session.get(RoundTable, roundtable_id) if roundtable_id is not None else None
    if roundtable is None or roundtable.workspace_id != workspace_id:
        return None
    return JobInWords("Monthly digest", roundtable.channel_id, roundtable.timezone)


DESCRIBERS: dict[str, Describer] = {
    "roundtable": _roundtable_reminder,
    "elephant": _elephant_poll_opens,
    "roundtable-follow-up": _follow_up,
}


async def describe_job(
    session: AsyncSession, *, workspace_id: str, name: str, when: datetime, now: datetime, workspace_zone: str
) -> str:
    """One line for a scheduled job: what, where and when, the time on the clock of the zone the job keeps. A job
    of a kind this does not know (or whose round-table or poll is gone) is shown by its name, in the workspace's
    zone."""
    parts = name.split(":")
    describer = DESCRIBERS.get(parts[0])
    words = await describer(session, workspace_id, parts) if describer is not None else None
    if words is None:
        return f"{name}, {moment_in_words(when, now=now, timezone=workspace_zone)}"
    pieces = [words.what]
    if words.channel_id:
        pieces.append(channel_mention(words.channel_id))
    pieces.append(moment_in_words(when, now=now, timezone=words.timezone or workspace_zone))
    return ", ".join(pieces)


def zone_in_words(timezone: str) -> str:
    """ "America/New_York" as people say it: "New York time"; UTC stays "UTC"."""
    zone = zone_or_utc(timezone).key
    if zone in ("UTC", "Etc/UTC"):
        return "UTC"
    return zone.rsplit("/", 1)[-1].replace("_", " ") + " time"


def moment_in_words(when: datetime, *, now: datetime, timezone: str) -> str:
    """ "Tue 14:45 New York time", with the date when it is more than a few days away ("Tue 10 Nov 14:45 …")."""
    local = when.astimezone(ZoneInfo(zone_or_utc(timezone).key))
    day = local.strftime("%a") if when - now <= WITHIN_A_WEEK else f"{local:%a} {local.day} {local:%b}"
    return f"{day} {local:%H:%M} {zone_in_words(timezone)}"
