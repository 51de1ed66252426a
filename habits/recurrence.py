"""When a recurring meeting or poll happens: a local wall-clock time in an IANA zone, right across DST changes.

Policy for the two hours a year that are odd:
- A wall time that does not exist (the spring-forward gap, e.g. 02:30 on the change day) moves forward by the gap:
  02:30 becomes 03:30 local.
- A wall time that happens twice (fall-back) means the first of the two.
Every other occurrence keeps its local wall time, so its UTC instant shifts by an hour across a change, which is
what people expect from "every Monday at 09:00".
"""

from __future__ import annotations

import calendar
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

Cadence = Literal["weekly", "biweekly", "monthly"]
CADENCES: tuple[Cadence, ...] = ("weekly", "biweekly", "monthly")
WEEKDAYS = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")
ORDINALS = {1: "first", 2: "second", 3: "third", 4: "fourth", -1: "last"}
# Far enough to find the next "last Friday" or "fourth Monday" however the calendar falls.
SEARCH_DAYS = 800


@dataclass(frozen=True)
class Recurrence:
    cadence: Cadence
    weekday: int
    at: time
    tz: str
    anchor: date
    week_of_month: int = 1

    def __post_init__(self) -> None:
        if self.cadence not in CADENCES:
            raise ValueError(f"cadence must be one of {', '.join(CADENCES)}, not {self.cadence!r}")
        if not 0 <= self.weekday <= 6:
            raise ValueError("weekday must be 0 (Monday) to 6 (Sunday)")
        if self.week_of_month not in ORDINALS:
            raise ValueError("week_of_month must be 1 to 4, or -1 for the last one of the month")
        try:
            ZoneInfo(self.tz)
        except (ZoneInfoNotFoundError, ValueError) as error:
            raise ValueError(f"{self.tz!r} is not an IANA time zone such as Europe/Berlin") from error

    @property
    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.tz)


def _matches(rec: Recurrence, day: date) -> bool:
    if day.weekday() != rec.weekday:
        return False
    if rec.cadence == "weekly":
        return True
    if rec.cadence == "biweekly":
        anchor_monday = rec.anchor - timedelta(days=rec.anchor.weekday())
        return ((day - anchor_monday).days // 7) % 2 == 0
    if rec.week_of_month == -1:
        return day.day + 7 > calendar.monthrange(day.year, day.month)[1]
    return (day.day - 1) // 7 + 1 == rec.week_of_month


def _instant(rec: Recurrence, day: date) -> datetime:
    # fold=0 reads a gap time with the offset from before the change, which lands it one gap later once normalised,
    # and picks the first of two ambiguous times: the policy in the module docstring.
    return datetime.combine(day, rec.at).replace(tzinfo=rec.zone, fold=0).astimezone(UTC)


def _require_aware(moment: datetime) -> None:
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise ValueError("pass an aware datetime; a naive one is ambiguous")


def next_occurrence(rec: Recurrence, after: datetime) -> datetime:
    """The first occurrence strictly after `after`, in UTC."""
    _require_aware(after)
    first_day = after.astimezone(rec.zone).date() - timedelta(days=1)
    for offset in range(SEARCH_DAYS):
        day = first_day + timedelta(days=offset)
        if _matches(rec, day) and (instant := _instant(rec, day)) > after:
            return instant
    raise ValueError(f"no occurrence within {SEARCH_DAYS} days")  # unreachable for valid recurrences


def previous_occurrence(rec: Recurrence, at_or_before: datetime) -> datetime | None:
    """The latest occurrence at or before the moment, in UTC (None before the first one could have happened)."""
    _require_aware(at_or_before)
    last_day = at_or_before.astimezone(rec.zone).date() + timedelta(days=1)
    for offset in range(SEARCH_DAYS):
        day = last_day - timedelta(days=offset)
        if _matches(rec, day) and (instant := _instant(rec, day)) <= at_or_before:
            return instant
    return None


def occurrences_between(rec: Recurrence, start: datetime, end: datetime) -> list[datetime]:
    """Occurrences with start < occurrence <= end."""
    found: list[datetime] = []
    moment = start
    while (upcoming := next_occurrence(rec, moment)) <= end:
        found.append(upcoming)
        moment = upcoming
    return found


def describe(rec: Recurrence) -> str:
    when = f"{WEEKDAYS[rec.weekday]} at {rec.at:%H:%M} ({rec.tz})"
    if rec.cadence == "weekly":
        return f"every {when}"
    if rec.cadence == "biweekly":
        return f"every 2 weeks on {when}"
    return f"monthly on the {ORDINALS[rec.week_of_month]} {when}"
