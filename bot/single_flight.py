"""One run of a slow lookup per key at a time: whoever asks while it runs waits for the same answer."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Coroutine, Hashable
from typing import Any, Generic, TypeVar

K = TypeVar("K", bound=Hashable)
V = TypeVar("V")


class SingleFlight(Generic[K, V]):
    def __init__(self, name: str) -> None:
        self._name = name
        self._running: dict[K, asyncio.Task[V]] = {}

    async def run(self, key: K, work: Callable[[], Coroutine[Any, Any, V]]) -> V:
        """`work()`'s answer, from the run already under way for `key` or from a new one."""
        running = self._running.get(key)
        if running is None:
            running = asyncio.create_task(work(), name=self._name)
            self._running[key] = running
            running.add_done_callback(lambda done: self._stop_sharing(key, done))
        # One waiter giving up (a cancelled listener) must not cancel the run the others are waiting for.
        return await asyncio.shield(running)

    def drop(self, key: K) -> None:
        """Callers from now on start a new run instead of waiting for the one under way."""
        self._running.pop(key, None)

    def _stop_sharing(self, key: K, done: asyncio.Task[V]) -> None:
        if self._running.get(key) is done:
            del self._running[key]
