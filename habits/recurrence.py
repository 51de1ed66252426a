"""When a recurring round-table or poll happens: weekly, every two weeks or monthly, at a local wall-clock time.

A `Recurrence` is a meeting series described the way people describe it ("every Tuesday at 15:00 in
Berlin"), and the functions here turn it into exact instants, returned as aware UTC datetimes.

Daylight-saving policy — the series keeps its local wall-clock time, not its UTC time:

* A normal wall time stays the same on both sides of a change, so its UTC time moves by an hour
  (09:00 in New York is 14:00 UTC in winter and 13:00 UTC in summer).
* A wall time that does not exist on the day the clocks spring forward is moved forward by the
  length of the gap: a 02:30 meeting on 2026-03-08 in New York happens at 03:30 local time.
* A wall time that happens twice on the day the clocks fall back means the first of the two
  (``fold=0``, still on summer time): a 01:30 meeting on 2026-11-01 in New York happens once, at
  01:30 EDT (05:30 UTC).

The series is unbounded in both directions: the anchor only decides which weeks a two-weekly series
falls on; it is not a start date.
"""

from __future__ import annotations

import calendar
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Final, Literal, get_args
from zoneinfo import ZoneInfo

from habits.time_words import known_zone

__all__ = [
    "CADENCES",
    "Cadence",
    "Recurrence",
    "describe",
    "next_occurrence",
    "occurrences_between",
    "previous_occurrence",
]

Cadence = Literal["weekly", "biweekly", "monthly"]
CADENCES: Final[tuple[Cadence, ...]] = get_args(Cadence)

WEEKDAY_NAMES: Final[tuple[str, ...]] = tuple(calendar.day_name[i] for i in range(7))
_ORDINALS: Final[dict[int, str]] = {1: "first", 2: "second", 3: "third", 4: "fourth", -1: "last"}
_ONE_DAY: Final = timedelta(days=1)
_ONE_WEEK: Final = timedelta(weeks=1)


@dataclass(frozen=True)
class Recurrence:
    """A meeting series at a local wall-clock time in an IANA time zone.

    * ``cadence``: ``"weekly"``, ``"biweekly"`` (every two weeks) or ``"monthly"``.
    * ``weekday``: 0 = Monday … 6 = Sunday.
    * ``at``: the local wall time, without a time zone.
    * ``tz``: an IANA time-zone name such as ``"Europe/Berlin"``.
    * ``anchor``: for ``"biweekly"``, meetings fall on the weeks (Monday to Sunday) an even number of
      weeks away from the anchor's week; the other cadences ignore it.
    * ``week_of_month``: for ``"monthly"``, 1..4 is the nth such weekday of the month and -1 the last
      one; the other cadences ignore it.
    """

    cadence: Cadence
    weekday: int
    at: time
    tz: str
    anchor: date
    week_of_month: int = 1

    def __post_init__(self) -> None:
        if self.cadence not in CADENCES:
            raise ValueError(f"Unknown cadence {self.cadence!r}: expected one of {', '.join(CADENCES)}")
        if isinstance(self.weekday, bool) or not isinstance(self.weekday, int) or not 0 <= self.weekday <= 6:
            raise ValueError(f"weekday must be 0 (Monday) to 6 (Sunday), got {self.weekday!r}")
        if not isinstance(self.at, time):
            raise ValueError(f"at must be a datetime.time, got {self.at!r}")
        if self.at.tzinfo is not None:
            raise ValueError(
                f"at must be a local wall time without a time zone (the zone goes in tz), got {self.at!r}"
            )
        if not isinstance(self.anchor, date) or isinstance(self.anchor, datetime):
            raise ValueError(f"anchor must be a datetime.date, got {self.anchor!r}")
        if isinstance(self.week_of_month, bool) or self.week_of_month not in _ORDINALS:
            raise ValueError(
                "week_of_month must be 1, 2, 3 or 4 (the nth weekday of the month) or -1 (the last one), "
                f"got {self.week_of_month!r}"
            )
        _zone(self.tz)

    @property
    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.tz)


def _zone(name: object) -> ZoneInfo:
    if not isinstance(name, str) or not name:
        raise ValueError(f"{name!r} is not an IANA time zone such as Europe/Berlin or America/New_York")
    zone = known_zone(name)
    if zone is None:
        raise ValueError(
            f"{name!r} is not an IANA time zone such as Europe/Berlin or America/New_York "
            "(names are case-sensitive)"
        )
    return zone


def _require_aware(value: datetime, name: str) -> datetime:
    if not isinstance(value, datetime):
        raise TypeError(f"{name} must be a datetime, got {value!r}")
    if value.tzinfo is None or value.utcoffset() is None:
        raise ValueError(f"{name} must be timezone-aware (for example datetime(..., tzinfo=UTC)), got {value!r}")
    return value.astimezone(UTC)


def _instant(rec: Recurrence, day: date) -> datetime:
    """The UTC instant of the meeting on local date ``day``, following the module's DST policy.

    With ``fold=0`` zoneinfo reads an ambiguous wall time with the earlier (summer) offset, the first
    of the two, and a wall time in a gap with the offset from before the gap, which lands the length
    of the gap later: exactly the policy described above.
    """
    local = datetime.combine(day, rec.at.replace(fold=0), tzinfo=rec.zone)
    return local.astimezone(UTC)


def _monday(day: date) -> date:
    return day - timedelta(days=day.weekday())


def _on_week(rec: Recurrence, day: date) -> bool:
    if rec.cadence != "biweekly":
        return True
    return ((_monday(day) - _monday(rec.anchor)).days // 7) % 2 == 0


def _monthly_date(rec: Recurrence, year: int, month: int) -> date:
    if rec.week_of_month == -1:
        last = date(year, month, calendar.monthrange(year, month)[1])
        return last - timedelta(days=(last.weekday() - rec.weekday) % 7)
    first = date(year, month, 1)
    return first + timedelta(days=(rec.weekday - first.weekday()) % 7 + 7 * (rec.week_of_month - 1))


def _dates_from(rec: Recurrence, start: date) -> Iterator[date]:
    """Meeting dates on or after ``start``, earliest first."""
    if rec.cadence == "monthly":
        year, month = start.year, start.month
        while True:
            day = _monthly_date(rec, year, month)
            if day >= start:
                yield day
            year, month = (year + 1, 1) if month == 12 else (year, month + 1)
    day = start + timedelta(days=(rec.weekday - start.weekday()) % 7)
    while True:
        if _on_week(rec, day):
            yield day
        day += _ONE_WEEK


def _dates_to(rec: Recurrence, end: date) -> Iterator[date]:
    """Meeting dates on or before ``end``, latest first."""
    if rec.cadence == "monthly":
        year, month = end.year, end.month
        while True:
            day = _monthly_date(rec, year, month)
            if day <= end:
                yield day
            year, month = (year - 1, 12) if month == 1 else (year, month - 1)
    day = end - timedelta(days=(end.weekday() - rec.weekday) % 7)
    while True:
        if _on_week(rec, day):
            yield day
        day -= _ONE_WEEK


def next_occurrence(rec: Recurrence, after: datetime) -> datetime:
    """The first meeting strictly after ``after`` (an aware datetime), as an aware UTC datetime.

    Raises ValueError for a naive ``after``, and OverflowError past the end of the calendar.
    """
    after_utc = _require_aware(after, "after")
    # Start a day early in local terms: the meeting's own date may differ from after's local date.
    start = after_utc.astimezone(rec.zone).date() - _ONE_DAY
    for day in _dates_from(rec, start):
        moment = _instant(rec, day)
        if moment > after_utc:
            return moment
    raise AssertionError("unreachable: the series is unbounded")  # pragma: no cover


def previous_occurrence(rec: Recurrence, at_or_before: datetime) -> datetime | None:
    """The last meeting at or before ``at_or_before`` (an aware datetime), as an aware UTC datetime.

    Returns None only when there is none left before the start of the calendar.
    """
    limit = _require_aware(at_or_before, "at_or_before")
    try:
        end = limit.astimezone(rec.zone).date() + _ONE_DAY
        for day in _dates_to(rec, end):
            moment = _instant(rec, day)
            if moment <= limit:
                return moment
    except OverflowError:
        return None
    raise AssertionError("unreachable: the series is unbounded")  # pragma: no cover


def occurrences_between(rec: Recurrence, start: datetime, end: datetime) -> list[datetime]:
    """Meetings with ``start < occurrence <= end``, earliest first, as aware UTC datetimes.

    The same convention as `next_occurrence` (strictly after) and `previous_occurrence` (at or before),
    so consecutive windows ``(a, b]``, ``(b, c]`` never list a meeting twice.
    """
    _require_aware(start, "start")
    end_utc = _require_aware(end, "end")
    found: list[datetime] = []
    moment = next_occurrence(rec, start)
    while moment <= end_utc:
        found.append(moment)
        moment = next_occurrence(rec, moment)
    return found


def _wall_time(at: time) -> str:
    return at.strftime("%H:%M:%S" if at.second or at.microsecond else "%H:%M")


def describe(rec: Recurrence) -> str:
    """Human text, e.g. "every Tuesday at 15:00 (Europe/Berlin)" or "monthly on the last Friday at 09:30 (UTC)"."""
    weekday = WEEKDAY_NAMES[rec.weekday]
    when = f"at {_wall_time(rec.at)} ({rec.tz})"
    if rec.cadence == "weekly":
        return f"every {weekday} {when}"
    if rec.cadence == "biweekly":
        return f"every 2 weeks on {weekday} {when}"
    return f"monthly on the {_ORDINALS[rec.week_of_month]} {weekday} {when}"
