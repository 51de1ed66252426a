"""Makes APScheduler's job store match what the features' job sources want.

Missing jobs are added, jobs no source wants are removed, and jobs that exist are left untouched: their stored next
run time is what lets a run missed during downtime still happen (or be honestly skipped) after a restart.

Adding and removing jobs is job-store I/O: it runs in a worker thread, never on the event loop (see
`scheduler.loop_executor`).
"""

from __future__ import annotations

import inspect
import logging
from collections.abc import Sequence
from dataclasses import dataclass

from apscheduler.events import EVENT_JOB_REMOVED, JobEvent
from apscheduler.jobstores.base import ConflictingIdError, JobLookupError
from apscheduler.schedulers.base import BaseScheduler
from apscheduler.util import ref_to_obj
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from models.db import session_scope
from models.scheduler_jobs import all_stored_job_ids
from models.workspaces import uninstalled_workspaces
from scheduler.jobs import JobSource, JobSpec
from scheduler.loop_executor import off_the_loop

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class ReconcileResult:
    added: tuple[str, ...]
    removed: tuple[str, ...]
    # When a source failed, its wishes are unknown, so nothing was removed this time.
    complete: bool


class JobReconciler:
    def __init__(
        self,
        scheduler: BaseScheduler,
        sessions: async_sessionmaker[AsyncSession],
        sources: Sequence[JobSource],
    ) -> None:
        self.scheduler = scheduler
        self.sessions = sessions
        self.sources = list(sources)
        # The latest wishes, by stored job id.
        self.desired: dict[str, JobSpec] = {}
        self._removing: set[str] = set()
        scheduler.add_listener(self._keep_finished_job, EVENT_JOB_REMOVED)

    async def reconcile(self) -> ReconcileResult:
        desired, complete = await self._collect()
        async with session_scope(self.sessions) as session:
            existing = await all_stored_job_ids(session)
            # A workspace that removed whoelse keeps its schedules (a reinstall finds them) but runs none of them.
            removed_from = await uninstalled_workspaces(session)
        desired = {job_id: spec for job_id, spec in desired.items() if spec.workspace_id not in removed_from}
        self.desired = desired if complete else {**self.desired, **desired}
        unwanted = sorted(existing - desired.keys()) if complete else []
        missing = [desired[job_id] for job_id in sorted(desired.keys() - existing)]
        removed, added = await off_the_loop(self._apply, unwanted, missing) if unwanted or missing else ([], [])
        if added or removed:
            logger.info("scheduled jobs reconciled: %d added, %d removed", len(added), len(removed))
        return ReconcileResult(added=tuple(added), removed=tuple(removed), complete=complete)

    async def _collect(self) -> tuple[dict[str, JobSpec], bool]:
        desired: dict[str, JobSpec] = {}
        complete = True
        for source in self.sources:
            name = f"{source.__module__}.{getattr(source, '__qualname__', repr(source))}"
            try:
                # A session per source: one failing source must not poison the others' transaction.
                async with session_scope(self.sessions) as session:
                    specs = await source(session)
            except Exception:
                logger.exception("job source %s failed; its scheduled jobs are kept as they are", name)
                complete = False
                continue
            for spec in specs:
                if spec.stored_id in desired:
                    logger.warning("job source %s repeats job %s; keeping the first", name, spec.stored_id)
                    continue
                desired[spec.stored_id] = spec
        return desired, complete

    def _apply(self, unwanted: list[str], missing: list[JobSpec]) -> tuple[list[str], list[str]]:
        """Removes and adds jobs in the store (blocking I/O); returns the ids actually removed and added."""
        removed = [job_id for job_id in unwanted if self._remove(job_id)]
        added = [spec.stored_id for spec in missing if self._add(spec)]
        return removed, added

    def _add(self, spec: JobSpec, *, finished: bool = False) -> bool:
        try:
            func = ref_to_obj(spec.func)
            if not inspect.iscoroutinefunction(func):
                raise TypeError(f"{spec.func} must be an `async def` function")
            self.scheduler.add_job(
                spec.func,
                trigger=spec.trigger,
                id=spec.stored_id,
                name=spec.id,
                kwargs=spec.kwargs,
                misfire_grace_time=spec.misfire_grace_seconds,
                replace_existing=False,
                # A finished job is kept paused: present (so it is not added again), never due.
                **({"next_run_time": None} if finished else {}),
            )
        except ConflictingIdError:
            return False
        except Exception:
            logger.exception("could not schedule job %s", spec.stored_id)
            return False
        return True

    def _remove(self, job_id: str) -> bool:
        self._removing.add(job_id)
        try:
            self.scheduler.remove_job(job_id)
        except JobLookupError:
            return False
        finally:
            self._removing.discard(job_id)
        return True

    def _keep_finished_job(self, event: JobEvent) -> None:
        """APScheduler drops a job whose trigger has no more fire times (a one-off that ran or was skipped).

        If its source still lists it, the next reconciliation would add it again and it would run again; keeping it
        paused in the store until the source lets go of it prevents that, across restarts too.

        Called in the thread that removed the job (the scheduler's own, or the reconciler's worker), never on the
        event loop: adding the job back writes to the store.
        """
        if event.job_id in self._removing:
            return
        spec = self.desired.get(event.job_id)
        if spec is not None:
            self._add(spec, finished=True)
