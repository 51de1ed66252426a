"""Ids that come back from outside (a button's value, a form's context): read strictly, so an odd value is refused
rather than crashing a handler or overflowing a database column."""

from __future__ import annotations

import re

# The largest id a BIGINT (PostgreSQL) or INTEGER (SQLite) column holds.
LARGEST_ID = 2**63 - 1
# ASCII digits without a leading zero: str.isdigit() also accepts "²" or "٣", which int() rejects or misreads.
_ID = re.compile(r"[1-9][0-9]{0,18}")


def parse_id(value: object) -> int | None:
    """The row id written in `value`, or None for anything that is not a positive id in range."""
    if not isinstance(value, str) or _ID.fullmatch(value) is None:
        return None
    number = int(value)
    return number if number <= LARGEST_ID else None
