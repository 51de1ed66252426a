"""A workspace that removed whoelse: marked with the time, its queued messages given up, and once the grace period
has passed every row it owns deleted.

The deletion walks every table that has a `workspace_id` column (children before parents), so a table added later is
covered without anyone remembering to list it here.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Table, delete, select, update
from sqlalchemy.ext.asyncio import AsyncSession

import models.all  # noqa: F401 (every table in the metadata, so the deletion sees them all)
from models.base import Base
from models.outbox import FAILED, PENDING, SENDING, OutboxMessage
from models.workspaces import Workspace

REMOVED_REASON = "not sent: whoelse was removed from this workspace"


async def mark_uninstalled(session: AsyncSession, *, workspace_id: str, now: datetime) -> int:
    """Marks the workspace as having removed whoelse (the first time only) and gives up its queued messages;
    returns how many were given up. A workspace whoelse never stored anything for is left alone."""
    workspace = await session.get(Workspace, workspace_id, with_for_update=True)
    if workspace is None:
        return 0
    if workspace.uninstalled_at is None:
        workspace.uninstalled_at = now
    given_up = await session.execute(
        update(OutboxMessage)
        .where(OutboxMessage.workspace_id == workspace_id, OutboxMessage.status.in_([PENDING, SENDING]))
        .values(status=FAILED, last_error=REMOVED_REASON, lease_until=None)
        .execution_options(synchronize_session=False)
    )
    return int(given_up.rowcount)  # type: ignore[attr-defined]


async def clear_uninstalled(session: AsyncSession, *, workspace_id: str) -> bool:
    """Whoelse is installed again: the workspace is served as before. Returns whether it had been removed."""
    workspace = await session.get(Workspace, workspace_id)
    if workspace is None or workspace.uninstalled_at is None:
        return False
    workspace.uninstalled_at = None
    return True


async def removed_before(session: AsyncSession, *, cutoff: datetime) -> list[str]:
    """Workspaces that removed whoelse before `cutoff`: their grace period is over."""
    rows = await session.scalars(
        select(Workspace.id).where(Workspace.uninstalled_at.is_not(None), Workspace.uninstalled_at <= cutoff)
    )
    return list(rows)


def workspace_tables() -> list[Table]:
    """Every table with a workspace_id column, children before the parents they point at."""
    return [table for table in reversed(Base.metadata.sorted_tables) if "workspace_id" in table.c]


async def purge_workspace(session: AsyncSession, *, workspace_id: str, cutoff: datetime) -> bool:
    """Deletes every row of the workspace, then the workspace itself, if it is still removed since before `cutoff`
    (a reinstall meanwhile keeps everything). Returns whether it was deleted. Run it in one transaction: a crash
    halfway deletes nothing, and running it again finishes the job."""
    workspace = await session.get(Workspace, workspace_id, with_for_update=True)
    if workspace is None or workspace.uninstalled_at is None or workspace.uninstalled_at > cutoff:
        return False
    for table in workspace_tables():
        await session.execute(delete(table).where(table.c.workspace_id == workspace_id))
    await session.execute(delete(Workspace).where(Workspace.id == workspace_id))
    return True
