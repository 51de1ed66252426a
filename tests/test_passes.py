"""The loop every background worker runs over stored work (the outbox, received events)."""

from __future__ import annotations

import asyncio
import logging

import pytest

from bot.passes import Passes

LONG_POLL = 60.0
logger = logging.getLogger("tests.passes")


class Work:
    """Stored work the worker finds: `waiting` items, handled one per pass; a pass can be made to fail."""

    def __init__(self, waiting: int = 0, failures: int = 0) -> None:
        self.waiting, self.failures, self.passes = waiting, failures, 0
        self.loop = Passes()
        self.passed = asyncio.Event()

    async def one_pass(self) -> int:
        self.passes += 1
        self.passed.set()
        if self.failures:
            self.failures -= 1
            raise RuntimeError("the database went away")
        handled = min(self.waiting, 1)
        self.waiting -= handled
        return handled

    def run(self, poll_seconds: float = LONG_POLL) -> asyncio.Task[None]:
        return asyncio.create_task(
            self.loop.run(
                self.one_pass,
                poll_seconds=poll_seconds,
                logger=logger,
                failure="pass failed; retrying at the next pass",
            )
        )

    async def stop(self, task: asyncio.Task[None]) -> None:
        self.loop.stop()
        await asyncio.wait_for(task, timeout=5)

    async def next_pass(self) -> None:
        self.passed.clear()
        self.loop.wake()
        await asyncio.wait_for(self.passed.wait(), timeout=5)


async def test_while_work_is_waiting_passes_follow_each_other_without_waiting_for_the_poll() -> None:
    work = Work(waiting=3)
    task = work.run()
    for _ in range(50):
        if work.waiting == 0:
            break
        await asyncio.sleep(0.01)
    assert work.waiting == 0
    # Three passes that each found something, and one that found nothing and now waits.
    assert work.passes == 4
    await work.stop(task)


async def test_a_wake_up_starts_a_pass_at_once_and_stopping_ends_the_loop() -> None:
    work = Work()
    task = work.run()
    await asyncio.sleep(0.05)
    assert work.passes == 1
    work.waiting = 1
    await work.next_pass()
    assert work.waiting == 0
    await work.stop(task)
    assert task.done()


async def test_a_failed_pass_is_logged_and_the_next_one_still_runs(caplog: pytest.LogCaptureFixture) -> None:
    work = Work(waiting=1, failures=1)
    with caplog.at_level(logging.ERROR, logger="tests.passes"):
        task = work.run(poll_seconds=0.01)
        for _ in range(100):
            if work.waiting == 0:
                break
            await asyncio.sleep(0.01)
        await work.stop(task)
    assert work.waiting == 0
    assert [record.getMessage() for record in caplog.records] == ["pass failed; retrying at the next pass"]
    assert caplog.records[0].exc_info is not None
