"""Which channels watch deals or tickets, remembered for a few seconds.

Every bot post in every channel the bot is in asks this question, and a CRM announcing a burst of deals asks it many
times a second for the same channel. Watching changes rarely: this process forgets a channel as soon as someone runs
`/whoelse watch` or `unwatch` here, and a change made through another replica is seen here within `ttl_seconds`.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from models.watches import watched_kinds

Key = tuple[str, str]


@dataclass
class WatchedChannels:
    sessions: async_sessionmaker[AsyncSession]
    ttl_seconds: float = 10.0
    # A workspace with more channels than this simply starts over: memory stays bounded, answers stay right.
    max_entries: int = 50_000
    clock: Callable[[], float] = time.monotonic
    _entries: dict[Key, tuple[float, frozenset[str]]] = field(default_factory=dict)

    async def kinds(self, *, workspace_id: str, channel_id: str) -> frozenset[str]:
        key = (workspace_id, channel_id)
        now = self.clock()
        cached = self._entries.get(key)
        if cached is not None and now - cached[0] < self.ttl_seconds:
            return cached[1]
        async with self.sessions() as session:
            kinds = frozenset(await watched_kinds(session, workspace_id=workspace_id, channel_id=channel_id))
        if len(self._entries) >= self.max_entries:
            self._entries.clear()
        self._entries[key] = (now, kinds)
        return kinds

    def forget(self, *, workspace_id: str, channel_id: str) -> None:
        self._entries.pop((workspace_id, channel_id), None)
