"""The restraint rules: which events deserve a nudge, and when a nudge must wait. Pure functions of their inputs."""

from __future__ import annotations

from collections.abc import Collection
from datetime import datetime, time, timedelta
from zoneinfo import ZoneInfo

from habits.events import BusinessEvent

URGENT_PRIORITIES = {"high", "highest", "urgent", "critical", "blocker", "p1", "p0"}
EVENT_ALIASES = {
    "won": "closed_won",
    "deal_won": "closed_won",
    "lost": "closed_lost",
    "deal_lost": "closed_lost",
    "stage_change": "stage_changed",
    "escalation": "escalated",
    "reopen": "reopened",
    "priority_change": "priority_raised",
    "priority_changed": "priority_raised",
}


def canonical_event(name: str) -> str:
    """One spelling per event, whichever the sender used: "Closed Won", "closed-won" and "won" are one event."""
    spelled = "_".join(name.strip().lower().replace("-", " ").split())
    return EVENT_ALIASES.get(spelled, spelled)


def juncture_of(event: BusinessEvent, enabled: Collection[str]) -> str | None:
    """The critical juncture this event marks, or None when it is routine.

    A juncture names the moment precisely enough that the same deal can be nudged again at a later moment (a new
    stage, a higher priority) but never twice for the same one.
    """
    key = f"{event.kind}.{canonical_event(event.event)}"
    if key not in enabled:
        return None
    if key == "deal.stage_changed":
        stage = " ".join((event.stage or "").lower().split())
        return f"{key}:{stage}" if stage else None
    if key == "ticket.priority_raised":
        priority = (event.priority or "").strip().lower()
        return f"{key}:{priority}" if priority in URGENT_PRIORITIES else None
    return key


def quiet_hours_end(now: datetime, *, timezone: str, start: time | None, end: time | None) -> datetime | None:
    """When `now` falls in quiet hours, the moment they end (aware, UTC-comparable); otherwise None.

    Quiet hours are wall-clock times in the workspace's time zone and may span midnight (19:00 to 08:00). Held
    nudges go out when they end rather than being dropped.
    """
    if now.tzinfo is None:
        raise ValueError("naive datetimes are ambiguous; pass an aware datetime")
    if start is None or end is None or start == end:
        return None
    zone = ZoneInfo(timezone)
    local = now.astimezone(zone)
    wall = local.time().replace(tzinfo=None)
    spans_midnight = start > end
    inside = (wall >= start or wall < end) if spans_midnight else (start <= wall < end)
    if not inside:
        return None
    end_day = local.date()
    if spans_midnight and wall >= start:
        end_day += timedelta(days=1)
    # Built from the wall clock, so a DST change during the night still ends quiet hours at the local `end`.
    return datetime.combine(end_day, end, tzinfo=zone)


def over_hourly_cap(nudges_in_last_hour: int, cap: int) -> bool:
    """A cap of 0 means no cap."""
    return cap > 0 and nudges_in_last_hour >= cap
