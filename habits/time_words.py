"""Time as people type and read it: "30m" or "2 days" in; "1 hour 30 minutes" and "tomorrow at 09:00" out."""

from __future__ import annotations

import re
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

_UNITS: dict[str, timedelta] = {
    **dict.fromkeys(("m", "min", "mins", "minute", "minutes"), timedelta(minutes=1)),
    **dict.fromkeys(("h", "hr", "hrs", "hour", "hours"), timedelta(hours=1)),
    **dict.fromkeys(("d", "day", "days"), timedelta(days=1)),
    **dict.fromkeys(("w", "wk", "wks", "week", "weeks"), timedelta(weeks=1)),
}
# ASCII digits only: \d would also take "٣" or "৩", which nobody types for a snooze by accident.
_PIECE = re.compile(r"([0-9]{1,6})\s*([a-z]+)")
_WHOLE = re.compile(r"(?:\s*[0-9]{1,6}\s*[a-z]+)+\s*")
# Far longer than anything whoelse accepts (snoozes stop at 90 days), and far inside what date arithmetic can hold:
# a longer sum ("999999w 999999w …") reads as this, which every caller refuses as too long instead of overflowing.
LONGEST_READ = timedelta(weeks=520)


def parse_duration(text: str) -> timedelta | None:
    """The length written in `text` ("30m", "4h", "2d", "1w", "1h 30m", "2 days"), or None if it is not one.

    Anything longer than `LONGEST_READ` comes back as `LONGEST_READ`.
    """
    lowered = text.strip().lower()
    if not lowered or _WHOLE.fullmatch(lowered) is None:
        return None
    minutes = 0
    for amount, unit in _PIECE.findall(lowered):
        step = _UNITS.get(unit)
        if step is None:
            return None
        # Whole minutes in a plain int, which cannot overflow, however many pieces are typed.
        minutes += int(amount) * (step // timedelta(minutes=1))
    return timedelta(minutes=min(minutes, LONGEST_READ // timedelta(minutes=1)))


def _count(amount: int, unit: str) -> str:
    return f"{amount} {unit}" + ("" if amount == 1 else "s")


def describe_duration(length: timedelta) -> str:
    """A length in words, to the minute and at most two units: "45 minutes", "1 hour 30 minutes", "2 weeks"."""
    minutes = round(length.total_seconds() / 60)
    if minutes < 1:
        return "less than a minute"
    if minutes < 60:
        return _count(minutes, "minute")
    hours, minutes = divmod(minutes, 60)
    if hours < 24:
        return _count(hours, "hour") + (f" {_count(minutes, 'minute')}" if minutes else "")
    days, hours = divmod(hours, 24)
    if days % 7 == 0 and not hours:
        return _count(days // 7, "week")
    return _count(days, "day") + (f" {_count(hours, 'hour')}" if hours else "")


def known_zone(name: str) -> ZoneInfo | None:
    """The IANA zone called `name`, or None for anything else, including folder names like "America"."""
    if not name:
        return None
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError, OSError):
        # zoneinfo raises IsADirectoryError (an OSError) for a region folder of the tz database.
        return None


def zone_or_utc(timezone: str) -> ZoneInfo:
    return known_zone(timezone) or ZoneInfo("UTC")


def describe_moment(when: datetime, *, now: datetime, timezone: str) -> str:
    """A moment on the reader's own clock: "today at 17:30 (Europe/Berlin)", "Thursday 28 November at 09:00 (…)"."""
    zone = zone_or_utc(timezone)
    local, today = when.astimezone(zone), now.astimezone(zone).date()
    days_ahead = (local.date() - today).days
    if days_ahead == 0:
        day = "today"
    elif days_ahead == 1:
        day = "tomorrow"
    elif local.year == today.year:
        day = f"{local:%A} {local.day} {local:%B}"
    else:
        day = f"{local:%A} {local.day} {local:%B %Y}"
    return f"{day} at {local:%H:%M} ({zone.key})"
