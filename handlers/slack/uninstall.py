"""Slack's word that a workspace removed whoelse: `app_uninstalled`, or `tokens_revoked` naming the bot token.

Handled before Slack gets its answer, so the tokens are gone when Slack hears back; a failure answers an error and
Slack sends the event again.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from typing import Any

from slack_bolt.async_app import AsyncApp
from slack_bolt.middleware.async_middleware import AsyncMiddleware
from slack_bolt.request.async_request import AsyncBoltRequest
from slack_bolt.response import BoltResponse

from bot.slack.removal import WorkspaceRemoval

logger = logging.getLogger(__name__)


def register(bolt: AsyncApp, removal: WorkspaceRemoval) -> None:
    @bolt.event("app_uninstalled", middleware=[RemoveBeforeAnswering(removal)])
    async def on_app_uninstalled() -> None:
        """Done before answering (see RemoveBeforeAnswering)."""

    @bolt.event("tokens_revoked", middleware=[RemoveBeforeAnswering(removal)])
    async def on_tokens_revoked() -> None:
        """Done before answering (see RemoveBeforeAnswering)."""


def bot_token_revoked(event: dict[str, Any]) -> bool:
    """Whether a tokens_revoked event names a bot token: a user's token alone leaves whoelse installed."""
    tokens = event.get("tokens")
    bots = tokens.get("bot") if isinstance(tokens, dict) else None
    return isinstance(bots, list) and len(bots) > 0


class RemoveBeforeAnswering(AsyncMiddleware):
    def __init__(self, removal: WorkspaceRemoval) -> None:
        self._removal = removal

    async def async_process(
        self, *, req: AsyncBoltRequest, resp: BoltResponse, next: Callable[[], Awaitable[BoltResponse]]
    ) -> BoltResponse:
        event = req.body.get("event") or {}
        kind = event.get("type")
        team_id = req.context.team_id
        if not team_id:
            logger.warning("Slack sent %s without a workspace; nothing to remove", kind)
        elif kind == "app_uninstalled":
            await self._removal.removed(team_id, why="the app was uninstalled")
        elif kind == "tokens_revoked" and bot_token_revoked(event):
            await self._removal.removed(team_id, why="its bot token was revoked")
        await next()
        return resp
