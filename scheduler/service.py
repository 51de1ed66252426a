"""Owns time: runs APScheduler in this process while it is the scheduler leader.

On SQLite there is one process, so it simply leads. On PostgreSQL every replica starts an election and only the
holder of the leader lock runs jobs; the others stand by and take over when it goes away. `SCHEDULER=off` keeps a
replica out of it altogether.

APScheduler runs in a thread of its own and only job runs come back to the event loop: its synchronous job store
used to do its I/O on the loop, where it deadlocked against the app's async transactions (see
`scheduler.loop_executor`). Starting, resuming and stopping it therefore happen off the loop too.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable, Sequence
from functools import partial
from typing import TYPE_CHECKING

from apscheduler.events import EVENT_JOB_MISSED, JobEvent, JobExecutionEvent
from apscheduler.schedulers.base import BaseScheduler

from bot.context import AppContext
from models.base import utcnow
from scheduler.jobs import JobSource
from scheduler.loop_executor import off_the_loop
from scheduler.reconcile import JobReconciler, ReconcileResult
from scheduler.runtime import clear_job_context, set_job_context
from scheduler.store import build_scheduler

if TYPE_CHECKING:
    # Imported where the election starts: it loads psycopg, which a SQLite install never uses.
    from scheduler.leader import LeaderElection

logger = logging.getLogger(__name__)


class NotTheLeader(RuntimeError):
    """Only the replica that runs the scheduler changes its jobs."""


class SchedulerService:
    def __init__(
        self,
        context: AppContext,
        sources: Sequence[JobSource],
        *,
        reconcile_seconds: float | None = None,
        leader_retry_seconds: float | None = None,
    ) -> None:
        self.context = context
        self.sources = list(sources)
        settings = context.settings
        self.reconcile_seconds = reconcile_seconds or settings.scheduler_reconcile_seconds
        self.leader_retry_seconds = leader_retry_seconds or settings.scheduler_leader_retry_seconds
        self.scheduler: BaseScheduler | None = None
        self._reconciler: JobReconciler | None = None
        self._reconcile_task: asyncio.Task[None] | None = None
        self._election: LeaderElection | None = None
        self._listeners: list[tuple[Callable[[JobEvent], None], int]] = []

    @property
    def is_leader(self) -> bool:
        return self.scheduler is not None

    def add_listener(self, callback: Callable[[JobEvent], None], mask: int) -> None:
        """Observes job events (runs, misses, errors, see `apscheduler.events`) now and after any later takeover.

        `callback` is called in the scheduler's thread, or on the event loop's for the end of a job run: it must be
        quick and thread-safe, and must neither touch the job store nor asyncio objects (hand over to the loop with
        `loop.call_soon_threadsafe` for that).
        """
        self._listeners.append((callback, mask))
        if self.scheduler is not None:
            self.scheduler.add_listener(callback, mask)

    async def start(self) -> None:
        settings = self.context.settings
        if settings.scheduler == "off":
            logger.info("SCHEDULER=off: this replica runs no scheduled jobs")
            self.context.scheduler_role = "off"
            return
        set_job_context(self.context)
        if settings.is_sqlite:
            # One process owns a SQLite file: nobody to elect.
            try:
                await self._lead()
            except BaseException:
                clear_job_context(self.context)
                raise
            return
        from scheduler.leader import LeaderElection

        self._election = LeaderElection(
            settings.database_url,
            on_elected=self._lead,
            on_deposed=self._step_down,
            retry_seconds=self.leader_retry_seconds,
        )
        self.context.scheduler_role = "standby"
        await self._election.start()

    async def stop(self) -> None:
        if self._election is not None:
            await self._election.stop()
            self._election = None
        else:
            await self._step_down()
        clear_job_context(self.context)
        self.context.scheduler_role = "off"

    async def reconcile(self) -> ReconcileResult:
        """Brings the job store in line with the job sources now, rather than at the next periodic pass."""
        if self._reconciler is None:
            raise NotTheLeader("this replica is not running the scheduler")
        return await self._reconciler.reconcile()

    async def _lead(self) -> None:
        scheduler = build_scheduler(self.context.settings.database_url)
        reconciler = JobReconciler(scheduler, self.context.sessions, self.sources)
        scheduler.add_listener(self._log_missed_run, EVENT_JOB_MISSED)
        for callback, mask in self._listeners:
            scheduler.add_listener(callback, mask)
        # Paused until the first reconciliation, so a job cancelled while this replica was down never runs.
        try:
            await off_the_loop(partial(scheduler.start, paused=True))
        finally:
            # Also when cancelled meanwhile: it has started all the same, and stepping down must stop it.
            if scheduler.running:
                self.scheduler, self._reconciler = scheduler, reconciler
        self.context.scheduler_role = "leader"
        try:
            await reconciler.reconcile()
        except Exception:
            logger.exception(
                "could not read the schedules; running the stored jobs as they are until the next try"
            )
        await off_the_loop(scheduler.resume)
        self._reconcile_task = asyncio.create_task(self._reconcile_forever(reconciler), name="scheduler-reconcile")
        logger.info("the scheduler is running in this replica")

    async def _step_down(self) -> None:
        task, self._reconcile_task = self._reconcile_task, None
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        scheduler, self._reconciler = self.scheduler, None
        try:
            if scheduler is not None and scheduler.running:
                # Cancels job runs in progress (without the lock, another replica may be starting them already) and
                # waits for them to unwind and for the scheduler's thread to end, so "stopped" means stopped.
                await off_the_loop(scheduler.shutdown, wait=True)
                logger.info("the scheduler has stopped in this replica")
        finally:
            self.scheduler = None
            self.context.scheduler_role = "standby" if self._election is not None else "off"

    async def _reconcile_forever(self, reconciler: JobReconciler) -> None:
        changes = self.context.schedule_changes
        while True:
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(self.reconcile_seconds):
                    await changes.wait()
            # Cleared before reading, so a change made while reconciling triggers another pass.
            changes.clear()
            try:
                await reconciler.reconcile()
            except Exception:
                logger.exception("reconciling scheduled jobs failed; trying again in %gs", self.reconcile_seconds)

    def _log_missed_run(self, event: JobExecutionEvent) -> None:
        late = (utcnow() - event.scheduled_run_time).total_seconds()
        spec = self._reconciler.desired.get(event.job_id) if self._reconciler else None
        grace = f"{spec.misfire_grace_seconds}s" if spec else "its grace period"
        logger.warning(
            "scheduled job %s skipped: its moment has passed (%s late, more than %s)",
            event.job_id,
            describe_duration(late),
            grace,
            extra={"job_id": event.job_id, "late_seconds": round(late, 3)},
        )


def describe_duration(seconds: float) -> str:
    whole = int(seconds)
    days, rest = divmod(whole, 86400)
    hours, rest = divmod(rest, 3600)
    minutes, secs = divmod(rest, 60)
    parts = [f"{days}d"] if days else []
    if days or hours:
        parts.append(f"{hours}h")
    if days or hours or minutes:
        parts.append(f"{minutes}m")
    parts.append(f"{secs}s")
    return " ".join(parts)
