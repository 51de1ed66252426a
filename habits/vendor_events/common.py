"""What every vendor mapping shares: how priorities compare, and the two ways a payload is not an event."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from habits.rules import URGENT_PRIORITIES


@dataclass(frozen=True)
class Ignored:
    """A genuine delivery about nothing the nudge rules care about (a comment, a priority lowered)."""

    reason: str


class UnreadablePayload(ValueError):
    """The payload lacks what every delivery of its kind carries (an issue key, a ticket id); safe to show."""


# Higher is more urgent. Jira's default scheme (Lowest…Highest), its older one (Trivial…Blocker) and Zendesk's
# (low…urgent) side by side; a name not listed has no known place, so only its urgency is known.
PRIORITY_RANK = {
    "lowest": 1,
    "trivial": 1,
    "low": 2,
    "minor": 2,
    "medium": 3,
    "normal": 3,
    "major": 3,
    "high": 4,
    "p1": 4,
    "highest": 5,
    "critical": 5,
    "urgent": 5,
    "p0": 5,
    "blocker": 6,
}


def is_urgent(priority: str | None) -> bool:
    return (priority or "").strip().lower() in URGENT_PRIORITIES


def raised_to_urgent(previous: str | None, current: str | None) -> bool:
    """A move up to an urgent priority: Medium→High is, Highest→High (down, though still urgent) is not."""
    if not is_urgent(current):
        return False
    before = PRIORITY_RANK.get((previous or "").strip().lower())
    after = PRIORITY_RANK.get((current or "").strip().lower())
    # From no priority, or from one whose place is unknown, to an urgent one: a rise as far as anyone can tell.
    return before is None or after is None or after > before


def text(value: Any, limit: int) -> str | None:
    """A payload's string field, trimmed and cut to what the event's column holds; None when absent or blank."""
    if not isinstance(value, str | int) or isinstance(value, bool):
        return None
    cleaned = str(value).strip()
    return cleaned[:limit] if cleaned else None


def field(document: Any, *path: str) -> Any:
    """document[path[0]][path[1]]…, or None where any step is missing or not an object."""
    for key in path:
        if not isinstance(document, dict):
            return None
        document = document.get(key)
    return document
