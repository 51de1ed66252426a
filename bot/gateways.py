"""Which chat platform a workspace is on, and so which gateway its messages go through."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.gateway import ChatGateway, PermanentError
from models.workspaces import Workspace

SLACK = "slack"
TEAMS = "teams"


class GatewayDirectory:
    """Picks the gateway for a workspace: a Slack team's (the one bot token's, or that team's own when whoelse serves
    many), or a tenant-bound Teams gateway for a Teams tenant.

    A workspace never changes platform, so the answer is kept once read.
    """

    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        *,
        slack: ChatGateway | None = None,
        slack_per_workspace: Callable[[str], Awaitable[ChatGateway]] | None = None,
        teams: Callable[[str], ChatGateway] | None = None,
    ) -> None:
        self._sessions = sessions
        self._slack = slack
        self._slack_per_workspace = slack_per_workspace
        self._teams = teams
        self._platforms: dict[str, str] = {}

    async def for_workspace(self, workspace_id: str) -> ChatGateway:
        platform = self._platforms.get(workspace_id)
        if platform is None:
            async with self._sessions() as session:
                platform = await session.scalar(select(Workspace.platform).where(Workspace.id == workspace_id))
            platform = platform or SLACK
            self._platforms[workspace_id] = platform
        if platform == TEAMS:
            if self._teams is None:
                raise PermanentError("this workspace is on Teams, and Teams is not configured (TEAMS_APP_ID)")
            return self._teams(workspace_id)
        if self._slack_per_workspace is not None:
            return await self._slack_per_workspace(workspace_id)
        if self._slack is None:
            raise PermanentError("this workspace is on Slack, and Slack is not configured (SLACK_BOT_TOKEN)")
        return self._slack
