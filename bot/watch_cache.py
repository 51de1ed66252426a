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

from bot.single_flight import SingleFlight
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
    # One read per channel at a time. When an answer expires in the middle of a burst, every post arriving before
    # it is read again would otherwise read it too, and queue for the database behind each other.
    _reading: SingleFlight[Key, frozenset[str]] = field(
        default_factory=lambda: SingleFlight("watched-channels-read")
    )
    # Counts `forget` calls, so a read that began before a change is not remembered after it.
    _forgets: int = 0

    async def kinds(self, *, workspace_id: str, channel_id: str) -> frozenset[str]:
        key = (workspace_id, channel_id)
        cached = self._entries.get(key)
        if cached is not None and self.clock() - cached[0] < self.ttl_seconds:
            return cached[1]
        return await self._reading.run(key, lambda: self._read(key))

    def forget(self, *, workspace_id: str, channel_id: str) -> None:
        key = (workspace_id, channel_id)
        self._entries.pop(key, None)
        self._reading.drop(key)
        self._forgets += 1

    async def _read(self, key: Key) -> frozenset[str]:
        started, forgets = self.clock(), self._forgets
        workspace_id, channel_id = key
        async with self.sessions() as session:
            kinds = frozenset(await watched_kinds(session, workspace_id=workspace_id, channel_id=channel_id))
        if forgets == self._forgets:
            if len(self._entries) >= self.max_entries:
                self._entries.clear()
            self._entries[key] = (started, kinds)
        return kinds
