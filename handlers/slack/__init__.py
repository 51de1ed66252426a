"""Slack listeners: thin adapters that parse Slack payloads and call the habit rules."""

from __future__ import annotations

import logging
from typing import Any

from slack_bolt.async_app import AsyncApp

from bot.context import AppContext
from handlers.commands import CommandRouter, settings, status, with_help
from handlers.commands import connections as connection_commands
from handlers.slack import (
    commands,
    connections,
    elephant,
    events,
    habit_commands,
    home,
    nudge_answers,
    roundtable,
)

logger = logging.getLogger(__name__)


def command_router() -> CommandRouter:
    """Every whoelse command, for Slack's /whoelse and for messages to the bot on Teams."""
    router = with_help(CommandRouter())
    habit_commands.add_commands(router)
    elephant.add_commands(router)
    roundtable.add_commands(router)
    settings.add_commands(router)
    status.add_commands(router)
    connection_commands.add_commands(router)
    return router


def register(
    bolt: AsyncApp, context: AppContext, router: CommandRouter, *, workspace_url: str | None = None
) -> None:
    """`workspace_url`: serving one workspace, its address as auth.test told it at start-up."""
    commands.register(bolt, context, router)
    events.register(bolt, context, router)
    habit_commands.register(bolt, context, router)
    elephant.register(bolt, context, router)
    roundtable.register(bolt, context, router)
    nudge_answers.register(bolt, context, router)
    connections.register(bolt, context, router)
    home.register(bolt, context, workspace_url=workspace_url)

    @bolt.error
    async def on_error(error: Exception, body: dict[str, Any]) -> None:
        logger.error(
            "Slack listener failed",
            exc_info=error,
            extra={
                "slack_type": body.get("type"),
                "team": _team_of(body),
            },
        )


def _team_of(body: dict[str, Any]) -> object:
    """The team a failed request came from, for the log: Slack gives it as an object, an id, or a separate field."""
    team = body.get("team")
    return team.get("id") if isinstance(team, dict) else team or body.get("team_id")
