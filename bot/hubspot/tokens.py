"""Which private app token reads a workspace's HubSpot: the one its admin gave when connecting HubSpot
(`/whoelse connect hubspot`), or, for this install's own workspace, HUBSPOT_PRIVATE_APP_TOKEN.

A connection is read again for each pass over stored events (bot/hubspot/details.py keeps what it reads for that
pass only), so a token an admin replaces (or a HubSpot they disconnect) is used (or no longer used) from the next pass
on.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

from bot.context import AppContext
from bot.secret_box import SecretUnreadable
from bot.settings import ConfigurationError
from habits.vendor_events.hubspot import SOURCE
from models.connections import find_connection, open_secrets

logger = logging.getLogger(__name__)

PRIVATE_APP_TOKEN = "private_app_token"


def can_use_hubspot(context: AppContext) -> bool:
    """Whether HubSpot events can reach whoelse at all: a token in settings, or workspaces able to connect one."""
    settings = context.settings
    if (settings.secret("hubspot_private_app_token") or "").strip():
        return True
    return settings.public_base_url is not None and settings.secret("whoelse_encryption_keys") is not None


@dataclass
class HubSpotTokens:
    context: AppContext

    async def token_for(self, workspace_id: str) -> str | None:
        """The workspace's private app token; None when it has none (its events are decided as notified)."""
        connected = await self._connected_token(workspace_id)
        if connected:
            return connected
        if workspace_id and workspace_id == self.context.default_workspace_id:
            return (self.context.settings.secret("hubspot_private_app_token") or "").strip() or None
        return None

    async def _connected_token(self, workspace_id: str) -> str | None:
        if self.context.settings.secret("whoelse_encryption_keys") is None:
            return None  # No connection's secrets could be opened: an install configured by settings alone.
        # Raised database errors reach the intake, which asks again at its next pass.
        async with self.context.sessions() as session:
            connection = await find_connection(session, workspace_id=workspace_id, source=SOURCE)
        if connection is None:
            return None
        try:
            secrets = open_secrets(self.context.settings.secret_box(), connection.sealed_secrets)
        except (ConfigurationError, SecretUnreadable) as unreadable:
            logger.error(
                "the HubSpot connection's token cannot be read, so its deals and tickets are nudged by id: %s",
                unreadable,
                extra={"workspace": workspace_id},
            )
            return None
        return secrets.get(PRIVATE_APP_TOKEN) or None
