"""What the follow-up sweeps will do for one workspace, as the runs `/whoelse status` lists.

The sweeps serve every workspace at once, every few minutes; an admin wants to know what they mean for theirs: when
each round-table's monthly digest is posted, and when the owners' reminders are next looked at (while any wait).
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncSession

from habits.roundtables.digest import next_digest_at
from habits.roundtables.follow_up import DIGEST_SWEEP, REMINDER_SWEEP, reminders_waiting
from models.roundtables import workspace_roundtables
from models.scheduler_jobs import next_run_of

# One round-table's digest, as a run: "roundtable-follow-up:digests:12".
DIGEST_RUN = DIGEST_SWEEP + ":{roundtable_id}"


async def follow_up_runs(session: AsyncSession, *, workspace_id: str, now: datetime) -> list[tuple[str, datetime]]:
    """(name, moment) of the workspace's coming follow-ups; none while the scheduler has not stored the sweeps."""
    runs: list[tuple[str, datetime]] = []
    sweep = await next_run_of(session, REMINDER_SWEEP)
    if sweep is not None and await reminders_waiting(session, workspace_id=workspace_id):
        runs.append((REMINDER_SWEEP, sweep))
    if await next_run_of(session, DIGEST_SWEEP) is not None:
        runs.extend(
            (DIGEST_RUN.format(roundtable_id=roundtable.id), next_digest_at(roundtable, now))
            for roundtable in await workspace_roundtables(session, workspace_id=workspace_id)
        )
    return runs
