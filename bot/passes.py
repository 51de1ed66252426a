"""The loop of a background worker over stored work (the outbox, received events): one pass after another while
there is work, else a wait until woken or until the next poll."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field


@dataclass
class Passes:
    wakeup: asyncio.Event = field(default_factory=asyncio.Event)
    stopping: bool = False

    def wake(self) -> None:
        """Starts the next pass now rather than at the next poll."""
        self.wakeup.set()

    def stop(self) -> None:
        """Asks `run` to return after the pass in flight."""
        self.stopping = True
        self.wakeup.set()

    async def run(
        self,
        one_pass: Callable[[], Awaitable[int]],
        *,
        poll_seconds: float,
        logger: logging.Logger,
        failure: str,
        wait_at_most: Callable[[], float | None] | None = None,
    ) -> None:
        """Runs `one_pass` (which returns how much it handled) until stopped. A pass that fails is logged as
        `failure` and tried again after the wait, so one bad pass never stops the worker. `wait_at_most`, when
        given, may shorten an idle wait (seconds), for work that falls due before the next poll."""
        self.stopping = False
        while not self.stopping:
            try:
                handled = await one_pass()
            except Exception:
                logger.exception(failure)
                handled = 0
            if handled or self.stopping:
                continue
            self.wakeup.clear()
            timeout = poll_seconds
            sooner = wait_at_most() if wait_at_most is not None else None
            if sooner is not None:
                timeout = min(timeout, max(0.0, sooner))
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self.wakeup.wait(), timeout=timeout)
