"""An APScheduler trigger driven by habits.recurrence, optionally firing a fixed time ahead (a reminder)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from apscheduler.triggers.base import BaseTrigger

from habits.recurrence import Recurrence, describe, next_occurrence

STATE_VERSION = 1
ONE_MICROSECOND = timedelta(microseconds=1)
DST_MARGIN = timedelta(hours=3)


class RecurrenceTrigger(BaseTrigger):  # type: ignore[misc]
    """Fires at each occurrence minus `offset`: offset=1 day is the reminder the day before."""

    def __init__(self, recurrence: Recurrence, offset: timedelta = timedelta(0)) -> None:
        self.recurrence = recurrence
        self.offset = offset

    def get_next_fire_time(self, previous_fire_time: datetime | None, now: datetime) -> datetime | None:
        # Same contract as APScheduler's own triggers: the first fire time at or after the start point, which is
        # just past the previous fire time (so runs missed while down are still reported, then coalesced) or now.
        if previous_fire_time is not None:
            start = min(now, previous_fire_time + ONE_MICROSECOND)
            if start == previous_fire_time:
                start += ONE_MICROSECOND
        else:
            start = now
        # Begin a little early: across a DST change a whole-day offset is 23 or 25 hours long.
        occurrence = next_occurrence(self.recurrence, start + self.offset - DST_MARGIN)
        while (fire_time := self.fire_time_for(occurrence)) < start:
            occurrence = next_occurrence(self.recurrence, occurrence)
        return fire_time

    def fire_time_for(self, occurrence: datetime) -> datetime:
        """Whole days are counted on the local calendar ("the day before at the same time", even across a DST
        change); the rest of the offset is absolute ("15 minutes before")."""
        whole_days = timedelta(days=self.offset.days)
        zone = self.recurrence.zone
        local = occurrence.astimezone(zone).replace(tzinfo=None) - whole_days
        return local.replace(tzinfo=zone, fold=0).astimezone(UTC) - (self.offset - whole_days)

    def occurrence_for(self, fire_time: datetime) -> datetime:
        """The meeting or poll that a fire time belongs to."""
        if not self.offset:
            return fire_time
        return next_occurrence(self.recurrence, fire_time)

    def __getstate__(self) -> dict[str, Any]:
        return {"version": STATE_VERSION, "recurrence": self.recurrence, "offset": self.offset}

    def __setstate__(self, state: dict[str, Any]) -> None:
        if state.get("version", 1) > STATE_VERSION:
            raise ValueError(f"this trigger was stored by a newer whoelse (state version {state['version']})")
        self.recurrence = state["recurrence"]
        self.offset = state["offset"]

    def __str__(self) -> str:
        ahead = f", {self.offset} ahead" if self.offset else ""
        return f"recurrence[{describe(self.recurrence)}{ahead}]"

    def __repr__(self) -> str:
        return f"<RecurrenceTrigger recurrence={self.recurrence!r} offset={self.offset!r}>"
