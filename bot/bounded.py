"""In-process memories that must not grow without bound: each keeps its most recently stored entries."""

from __future__ import annotations

from typing import TypeVar

K = TypeVar("K")
V = TypeVar("V")


def keep_newest(entries: dict[K, V], key: K, value: V, *, limit: int) -> None:
    """Stores `value` under `key` as the newest entry; past `limit` entries, those stored longest ago are dropped.

    A dict keeps insertion order, so the first key is always the one stored longest ago.
    """
    entries.pop(key, None)
    entries[key] = value
    while len(entries) > limit:
        del entries[next(iter(entries))]
