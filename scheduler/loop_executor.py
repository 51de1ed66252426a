"""The bridge between APScheduler's thread and the app's event loop.

APScheduler's job store is synchronous. Under AsyncIOScheduler its I/O ran on the event loop, and an async
transaction holding the lock that I/O waited for (SQLite's single write lock, a row lock on PostgreSQL) could only
finish on that same, now frozen, loop: a deadlock, ended by SQLite's 30 s busy timeout with "database is locked"
(on PostgreSQL, never). So the scheduler runs in a thread of its own (BackgroundScheduler), async code reaches the
job store only through `off_the_loop`, and `EventLoopExecutor` hands each job run back to the event loop, where the
app's async engine and clients live.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable
from concurrent.futures import Future
from datetime import datetime
from functools import partial
from typing import Any, ParamSpec, TypeVar

from apscheduler.executors.base import BaseExecutor, run_coroutine_job
from apscheduler.util import iscoroutinefunction_partial

P = ParamSpec("P")
T = TypeVar("T")

# What a run reports: a list of apscheduler.events.JobExecutionEvent (APScheduler has no type hints).
RunEvents = list[Any]

# How long stopping waits for cancelled runs to unwind before giving up on them.
STOP_TIMEOUT_SECONDS = 10.0
# Job runs in progress at once. A weekly poll due in 2,000 channels is 2,000 jobs due in the same second; run all at
# once, they would queue for the database connection pool until some timed out. The rest wait their turn here.
MAX_CONCURRENT_RUNS = 4


async def off_the_loop(func: Callable[P, T], *args: P.args, **kwargs: P.kwargs) -> T:
    """Calls `func` (blocking scheduler work: job-store I/O, starting, stopping) in a worker thread.

    Seen through to the end even if the caller is cancelled meanwhile (the cancellation is re-raised afterwards):
    the thread cannot be stopped, and a scheduler left half-way through starting or stopping, or a job half added,
    behind the caller's back would run jobs nobody knows about.
    """
    work = asyncio.ensure_future(asyncio.to_thread(func, *args, **kwargs))
    cancelled = False
    while not work.done():
        try:
            # Unlike awaiting it, waiting for it leaves `work` alone when this task is cancelled.
            await asyncio.wait([work])
        except asyncio.CancelledError:
            cancelled = True
    if cancelled:
        raise asyncio.CancelledError from work.exception()
    return work.result()


class EventLoopExecutor(BaseExecutor):  # type: ignore[misc]
    """Runs `async def` job functions on the given event loop, for a scheduler that lives in another thread.

    Completion events (executed, missed, failed) are dispatched to the scheduler's listeners on the event loop's
    thread, where the run ended; other events in the scheduler's thread. Listeners must be quick and must not touch
    the job store (that I/O belongs in the scheduler's thread, see the module docstring).
    """

    def __init__(
        self,
        loop: asyncio.AbstractEventLoop,
        *,
        stop_timeout: float = STOP_TIMEOUT_SECONDS,
        max_concurrent_runs: int = MAX_CONCURRENT_RUNS,
    ) -> None:
        super().__init__()
        self._loop = loop
        self._stop_timeout = stop_timeout
        # Created on the loop's side on first use; it only ever runs there.
        self._max_concurrent_runs = max_concurrent_runs
        self._run_slots: asyncio.Semaphore | None = None
        # Guards the fields below; its waiters are woken whenever a run ends.
        self._state = threading.Condition()
        self._futures: set[Future[RunEvents]] = set()
        self._running = 0
        self._stopped = False

    def start(self, scheduler: Any, alias: str) -> None:
        super().start(scheduler, alias)
        with self._state:
            self._stopped = False

    def shutdown(self, wait: bool = True) -> None:
        """Cancels the runs in progress: a deposed leader must not go on running jobs another replica may start.

        With `wait`, also waits (up to `stop_timeout`) for the runs that had begun to unwind, unless called on the
        event loop itself, which has to keep turning for them to do so.
        """
        with self._state:
            self._stopped = True
            futures, self._futures = list(self._futures), set()
        for future in futures:
            future.cancel()
        if not wait or self._on_the_loop() or not self._loop.is_running():
            return
        with self._state:
            if not self._state.wait_for(lambda: self._running == 0, timeout=self._stop_timeout):
                self._logger.warning(
                    "%d cancelled job run(s) still running %gs after the scheduler stopped",
                    self._running,
                    self._stop_timeout,
                )

    def _do_submit_job(self, job: Any, run_times: list[datetime]) -> None:
        if not iscoroutinefunction_partial(job.func):
            # A blocking function would stall the event loop; the reconciler refuses to schedule one.
            raise TypeError(f"job {job.id}: {job.func_ref} must be an `async def` function")
        run = self._run(job, run_times)
        try:
            future = asyncio.run_coroutine_threadsafe(run, self._loop)
        except RuntimeError:
            # The event loop is closed: the app is going away.
            run.close()
            raise
        with self._state:
            self._futures.add(future)
        future.add_done_callback(partial(self._finished, job.id))

    async def _run(self, job: Any, run_times: list[datetime]) -> RunEvents:
        with self._state:
            if self._stopped:
                # Stopped before the loop got to it: another replica may be the one to run it now.
                raise asyncio.CancelledError
            self._running += 1
        if self._run_slots is None:
            self._run_slots = asyncio.Semaphore(self._max_concurrent_runs)
        try:
            async with self._run_slots:
                events: RunEvents = await run_coroutine_job(job, job._jobstore_alias, run_times, self._logger.name)
            return events
        finally:
            with self._state:
                self._running -= 1
                self._state.notify_all()

    def _finished(self, job_id: str, future: Future[RunEvents]) -> None:
        with self._state:
            self._futures.discard(future)
        if future.cancelled():
            self._logger.warning("run of job %s cancelled: the scheduler stopped", job_id)
            # Nothing to report but that the run is over.
            self._run_job_success(job_id, [])
            return
        try:
            events = future.result()
        except BaseException as error:
            self._run_job_error(job_id, error, error.__traceback__)
        else:
            self._run_job_success(job_id, events)

    def _on_the_loop(self) -> bool:
        try:
            return asyncio.get_running_loop() is self._loop
        except RuntimeError:
            return False
