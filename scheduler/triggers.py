"""An APScheduler trigger driven by habits.recurrence, optionally firing a fixed time ahead (a reminder).

How an offset is applied, so that a reminder is never an hour off after a daylight-saving change:

* Whole days are counted on the local calendar: a one-day reminder for Monday 09:00 fires on Sunday at
  09:00 local time, even when the clocks changed in between (that Sunday is 23 or 25 hours long).
* The rest of the offset is elapsed time: "15 minutes before" is 15 real minutes before.
* If the reminder's local wall time falls in a spring-forward gap or an ambiguous fall-back hour, the
  policy of habits.recurrence applies (moved forward by the gap; the first of the two).

A negative offset fires after each occurrence (a follow-up), with the same rules.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any, Final

from apscheduler.triggers.base import BaseTrigger

from habits.recurrence import Recurrence, describe, next_occurrence, previous_occurrence

__all__ = ["STATE_VERSION", "RecurrenceTrigger", "occurrence_for_fire_time"]

STATE_VERSION: Final = 1
ONE_MICROSECOND: Final = timedelta(microseconds=1)
# More than any daylight-saving shift (at most two hours anywhere), and less than the gap between two
# occurrences (at least six days), so searching from this far back never misses or skips one.
SEARCH_MARGIN: Final = timedelta(days=1)


def _aware_utc(value: datetime, name: str) -> datetime:
    if not isinstance(value, datetime) or value.tzinfo is None or value.utcoffset() is None:
        raise ValueError(f"{name} must be a timezone-aware datetime, got {value!r}")
    return value.astimezone(UTC)


class RecurrenceTrigger(BaseTrigger):  # type: ignore[misc]
    """Fires at each occurrence of ``recurrence`` minus ``offset``: ``timedelta(days=1)`` is the reminder the
    day before at the same local time, ``timedelta(minutes=15)`` the one a quarter of an hour before.

    Fire times are aware UTC datetimes. Instances pickle (APScheduler's SQLAlchemyJobStore stores them that
    way) with a versioned state, like APScheduler's own triggers.
    """

    __slots__ = ("offset", "recurrence")

    recurrence: Recurrence
    offset: timedelta

    def __init__(self, recurrence: Recurrence, offset: timedelta = timedelta(0)) -> None:
        if not isinstance(recurrence, Recurrence):
            raise TypeError(f"recurrence must be a habits.recurrence.Recurrence, got {recurrence!r}")
        if not isinstance(offset, timedelta):
            raise TypeError(f"offset must be a datetime.timedelta, got {offset!r}")
        self.recurrence = recurrence
        self.offset = offset

    def get_next_fire_time(self, previous_fire_time: datetime | None, now: datetime) -> datetime | None:
        """The same contract as APScheduler's CronTrigger.

        * Without a previous fire time (a new or resumed job): the first fire time at or after ``now``.
        * With one: the first fire time strictly after it, even if that is already in the past. APScheduler
          relies on this to list the runs missed while it was down, then coalesces them or skips those past
          their misfire grace time.

        Returns None only past the end of the calendar.
        """
        now_utc = _aware_utc(now, "now")
        if previous_fire_time is None:
            start = now_utc
        else:
            start = _aware_utc(previous_fire_time, "previous_fire_time") + ONE_MICROSECOND
        try:
            occurrence = next_occurrence(self.recurrence, start + self.offset - SEARCH_MARGIN)
            while (fire_time := self.fire_time_for(occurrence)) < start:
                occurrence = next_occurrence(self.recurrence, occurrence)
        except OverflowError:
            return None
        return fire_time

    def fire_time_for(self, occurrence: datetime) -> datetime:
        """When this trigger fires for the meeting at ``occurrence``, as an aware UTC datetime."""
        occurrence_utc = _aware_utc(occurrence, "occurrence")
        sign = -1 if self.offset < timedelta(0) else 1
        ahead = abs(self.offset)
        whole_days = timedelta(days=ahead.days)
        zone = self.recurrence.zone
        wall = occurrence_utc.astimezone(zone).replace(tzinfo=None, fold=0)
        nominal = datetime.combine(wall.date(), self.recurrence.at.replace(fold=0))
        if nominal.replace(tzinfo=zone).astimezone(UTC) == occurrence_utc:
            # Count from the meeting's own wall time, even on a day a spring-forward gap moved it: the day
            # before a 02:30 meeting that had to happen at 03:30 is still at 02:30.
            wall = nominal
        # Calendar days on the local wall clock, resolved with fold=0: the policy of habits.recurrence.
        local = wall - sign * whole_days
        return local.replace(tzinfo=zone, fold=0).astimezone(UTC) - sign * (ahead - whole_days)

    def occurrence_for(self, fire_time: datetime) -> datetime:
        """The occurrence a fire time belongs to; see `occurrence_for_fire_time`."""
        return occurrence_for_fire_time(self, fire_time)

    def __getstate__(self) -> dict[str, Any]:
        return {"version": STATE_VERSION, "recurrence": self.recurrence, "offset": self.offset}

    def __setstate__(self, state: dict[str, Any]) -> None:
        version = state.get("version", 1)
        if version > STATE_VERSION:
            raise ValueError(
                f"Got serialized data for version {version} of {type(self).__name__}, "
                f"but only versions up to {STATE_VERSION} can be handled (stored by a newer whoelse?)"
            )
        self.recurrence = state["recurrence"]
        self.offset = state["offset"]

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, RecurrenceTrigger):
            return NotImplemented
        return (self.recurrence, self.offset) == (other.recurrence, other.offset)

    def __hash__(self) -> int:
        return hash((self.recurrence, self.offset))

    def __str__(self) -> str:
        if not self.offset:
            return f"recurrence[{describe(self.recurrence)}]"
        when = "before" if self.offset > timedelta(0) else "after"
        return f"recurrence[{describe(self.recurrence)}, {abs(self.offset)} {when}]"

    def __repr__(self) -> str:
        return f"<{type(self).__name__} (recurrence={self.recurrence!r}, offset={self.offset!r})>"


def occurrence_for_fire_time(trigger: RecurrenceTrigger, fire_time: datetime) -> datetime:
    """The meeting (an aware UTC datetime) that a fire time of ``trigger`` is for: ``fire_time + offset``,
    with whole days counted on the local calendar as `RecurrenceTrigger.fire_time_for` does.

    A fire time that is not exactly one of the trigger's (a run that started late) maps to the occurrence of
    the latest fire time at or before it.
    """
    fire_utc = _aware_utc(fire_time, "fire_time")
    recurrence = trigger.recurrence
    occurrence = previous_occurrence(recurrence, fire_utc + trigger.offset + SEARCH_MARGIN)
    while occurrence is not None and trigger.fire_time_for(occurrence) > fire_utc:
        occurrence = previous_occurrence(recurrence, occurrence - ONE_MICROSECOND)
    if occurrence is None:
        raise ValueError(f"no occurrence of {describe(recurrence)} fires at or before {fire_time!r}")
    return occurrence
