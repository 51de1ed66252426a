"""slack_sdk's AsyncInstallationStore over whoelse's own database: one row per workspace, tokens sealed.

Every read and write names the workspace (Slack's team id) and uses a session of its own. An org-wide (Enterprise
Grid) install has no workspace and is never stored: the install flow refuses it before it gets here.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime

from slack_sdk.oauth.installation_store import Bot, Installation
from slack_sdk.oauth.installation_store.async_installation_store import AsyncInstallationStore
from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.secret_box import SecretBox
from models.base import utcnow
from models.installations import SlackInstallation
from models.workspaces import get_or_create_workspace

logger = logging.getLogger(__name__)


class NotAWorkspaceInstall(ValueError):
    """An install with no workspace (org-wide): whoelse is installed one workspace at a time."""


class SqlInstallationStore(AsyncInstallationStore):
    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        box: SecretBox,
        *,
        default_timezone: str = "UTC",
        clock: Callable[[], datetime] = utcnow,
    ) -> None:
        self._sessions = sessions
        self._box = box
        self._default_timezone = default_timezone
        self._clock = clock
        # Called with a workspace id after its tokens change (a new install, a rotated token, a deletion), so what
        # holds a client with the old token lets it go.
        self._changed: list[Callable[[str], None]] = []

    @property
    def logger(self) -> logging.Logger:
        return logger

    def on_change(self, listener: Callable[[str], None]) -> None:
        self._changed.append(listener)

    def _announce(self, workspace_id: str) -> None:
        for listener in self._changed:
            listener(workspace_id)

    async def async_save(self, installation: Installation) -> None:
        await self.async_save_bot(_bot_of(installation), installer_user_id=installation.user_id)

    async def async_save_bot(self, bot: Bot, *, installer_user_id: str | None = None) -> None:
        workspace_id = bot.team_id
        if not workspace_id or bot.is_enterprise_install:
            raise NotAWorkspaceInstall("whoelse is installed per workspace; an org-wide install is not kept")
        now = self._clock()
        async with self._sessions() as session, session.begin():
            workspace = await get_or_create_workspace(
                session, workspace_id=workspace_id, default_timezone=self._default_timezone, platform="slack"
            )
            if workspace.uninstalled_at is not None:
                # Installed again within the grace period: its watches, schedules and history are served as before.
                logger.info("whoelse is installed again in Slack workspace %s", workspace_id)
                workspace.uninstalled_at = None
            row = await session.get(SlackInstallation, workspace_id)
            if row is None:
                row = SlackInstallation(workspace_id=workspace_id, installed_at=now)
                session.add(row)
            row.enterprise_id = bot.enterprise_id
            row.app_id = bot.app_id
            row.team_name = bot.team_name
            row.bot_id = bot.bot_id
            row.bot_user_id = bot.bot_user_id
            row.bot_scopes = ",".join(bot.bot_scopes or [])
            self._seal_tokens(row, bot)
            if installer_user_id is not None:
                row.installer_user_id = installer_user_id
            row.updated_at = now
        self._announce(workspace_id)

    async def refresh_bot(self, workspace_id: str, refresh: Callable[[Bot], Awaitable[Bot | None]]) -> Bot | None:
        """The workspace's bot as stored, or as `refresh` renews it (None: not installed).

        `refresh` gets the bot read with its row locked, and what it returns is saved before the lock is let go: every
        replica sharing the database refreshes a workspace's token one at a time, and whoever waited reads the token
        the first one stored (and `refresh` can see it needs nothing more). The lock is held while `refresh` runs, so it
        should be one short exchange with Slack.
        """
        async with self._sessions() as session, session.begin():
            # FOR UPDATE on PostgreSQL; SQLite ignores it, and every transaction there already holds the database's
            # write lock from its start (models/db.py begins them IMMEDIATE).
            row = await session.scalar(
                select(SlackInstallation).where(SlackInstallation.workspace_id == workspace_id).with_for_update()
            )
            if row is None:
                return None
            bot = self._bot(row)
            refreshed = await refresh(bot)
            if refreshed is None:
                return bot
            self._seal_tokens(row, refreshed)
            row.updated_at = self._clock()
        self._announce(workspace_id)
        return refreshed

    async def async_find_bot(
        self,
        *,
        enterprise_id: str | None,
        team_id: str | None,
        is_enterprise_install: bool | None = False,
    ) -> Bot | None:
        row = await self._row(team_id, is_enterprise_install)
        return None if row is None else self._bot(row)

    async def async_find_installation(
        self,
        *,
        enterprise_id: str | None,
        team_id: str | None,
        user_id: str | None = None,
        is_enterprise_install: bool | None = False,
    ) -> Installation | None:
        row = await self._row(team_id, is_enterprise_install)
        # Only the workspace's installation is kept, not one per user: a user's own installation does not exist.
        if row is None or (user_id is not None and user_id != row.installer_user_id):
            return None
        bot = self._bot(row)
        return Installation(
            app_id=bot.app_id,
            enterprise_id=bot.enterprise_id,
            team_id=bot.team_id,
            team_name=bot.team_name,
            bot_token=bot.bot_token,
            bot_id=bot.bot_id,
            bot_user_id=bot.bot_user_id,
            bot_scopes=bot.bot_scopes,
            bot_refresh_token=bot.bot_refresh_token,
            bot_token_expires_at=bot.bot_token_expires_at,
            user_id=row.installer_user_id or "",
            installed_at=bot.installed_at,
        )

    async def is_installed(self, workspace_id: str) -> bool:
        """Whether this workspace has installed whoelse (without opening its token)."""
        async with self._sessions() as session:
            found = await session.scalar(
                select(SlackInstallation.workspace_id).where(SlackInstallation.workspace_id == workspace_id)
            )
        return found is not None

    async def delete_workspace(self, workspace_id: str) -> None:
        """Forgets this workspace's installation, tokens included (its habits' data stays)."""
        async with self._sessions() as session, session.begin():
            await session.execute(delete(SlackInstallation).where(SlackInstallation.workspace_id == workspace_id))
        self._announce(workspace_id)

    async def async_delete_bot(self, *, enterprise_id: str | None, team_id: str | None) -> None:
        if team_id:
            await self.delete_workspace(team_id)

    async def async_delete_installation(
        self, *, enterprise_id: str | None, team_id: str | None, user_id: str | None = None
    ) -> None:
        # The workspace's installation is one row; a single user's (user_id) was never kept.
        if team_id and user_id is None:
            await self.delete_workspace(team_id)

    async def async_delete_all(self, *, enterprise_id: str | None, team_id: str | None) -> None:
        if team_id:
            await self.delete_workspace(team_id)

    async def _row(self, team_id: str | None, is_enterprise_install: bool | None) -> SlackInstallation | None:
        if not team_id or is_enterprise_install:
            return None
        async with self._sessions() as session:
            return await session.get(SlackInstallation, team_id)

    def _seal_tokens(self, row: SlackInstallation, bot: Bot) -> None:
        row.bot_token_sealed = self._box.seal(bot.bot_token)
        row.bot_refresh_token_sealed = self._box.seal(bot.bot_refresh_token) if bot.bot_refresh_token else None
        row.bot_token_expires_at = (
            datetime.fromtimestamp(bot.bot_token_expires_at, UTC) if bot.bot_token_expires_at else None
        )

    def _bot(self, row: SlackInstallation) -> Bot:
        return Bot(
            app_id=row.app_id,
            enterprise_id=row.enterprise_id,
            team_id=row.workspace_id,
            team_name=row.team_name,
            bot_token=self._box.open(row.bot_token_sealed),
            bot_id=row.bot_id,
            bot_user_id=row.bot_user_id,
            bot_scopes=row.bot_scopes,
            bot_refresh_token=self._box.open(row.bot_refresh_token_sealed)
            if row.bot_refresh_token_sealed
            else None,
            bot_token_expires_at=int(row.bot_token_expires_at.timestamp()) if row.bot_token_expires_at else None,
            installed_at=row.installed_at.timestamp(),
        )


def _bot_of(installation: Installation) -> Bot:
    if installation.bot_token is None:
        raise NotAWorkspaceInstall("the install granted no bot token")
    return installation.to_bot()
