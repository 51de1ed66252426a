"""What happens when a Slack workspace removes whoelse (or revokes its bot token): its tokens are deleted at once,
the workspace is marked with the time, its queued messages are given up and its scheduled jobs stop. Its data stays
for the grace period (UNINSTALLED_DATA_GRACE_DAYS), so a reinstall finds its history.

Serving one workspace with SLACK_BOT_TOKEN, the token lives in the operator's configuration, not in the database:
the workspace is marked and stopped the same way, and the operator is told, in one error line, what to do.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable

from bot.context import AppContext
from models.db import session_scope
from models.workspace_removal import mark_uninstalled

logger = logging.getLogger(__name__)


class WorkspaceRemoval:
    def __init__(
        self, context: AppContext, *, forget_tokens: Callable[[str], Awaitable[None]] | None = None
    ) -> None:
        self._context = context
        # Deletes a workspace's stored tokens; None when the one token is SLACK_BOT_TOKEN.
        self._forget_tokens = forget_tokens

    async def removed(self, workspace_id: str, *, why: str) -> None:
        if self._forget_tokens is not None:
            await self._forget_tokens(workspace_id)
        async with session_scope(self._context.sessions) as session:
            given_up = await mark_uninstalled(session, workspace_id=workspace_id, now=self._context.clock())
        # The scheduler leader drops the workspace's jobs now (or at its next pass on another replica).
        self._context.schedule_changes.set()
        grace = self._context.settings.uninstalled_data_grace_days
        if self._forget_tokens is None:
            logger.error(
                "Slack workspace %s removed whoelse (%s): nothing more is sent there and its jobs have stopped. "
                "SLACK_BOT_TOKEN no longer works: reinstall the Slack app and put its new bot token in "
                "SLACK_BOT_TOKEN, or turn Slack off by removing SLACK_BOT_TOKEN; then restart. Its data is deleted "
                "after UNINSTALLED_DATA_GRACE_DAYS=%d days unless whoelse starts with a working token before.",
                workspace_id,
                why,
                grace,
                extra={"workspace": workspace_id, "given_up": given_up},
            )
            return
        logger.info(
            "Slack workspace %s removed whoelse (%s): its tokens are deleted, %d queued messages given up; its data "
            "is deleted after %d days unless it installs whoelse again",
            workspace_id,
            why,
            given_up,
            grace,
            extra={"workspace": workspace_id, "given_up": given_up},
        )
