"""`/whoelse <subcommand> …`: one Slack command, routed to the feature that owns each subcommand."""

from __future__ import annotations

import logging
from typing import Any

from slack_bolt.async_app import AsyncAck, AsyncApp

from bot.context import AppContext
from bot.slack.blocks import SLASH_COMMAND, render_message
from handlers.commands import CommandRequest, CommandRouter, answer, parse

logger = logging.getLogger(__name__)


def register(bolt: AsyncApp, context: AppContext, router: CommandRouter) -> None:
    @bolt.command(SLASH_COMMAND)
    async def on_command(ack: AsyncAck, body: dict[str, Any]) -> None:
        name, arguments = parse(str(body.get("text", "")))
        request = CommandRequest(
            workspace_id=str(body["team_id"]),
            channel_id=str(body["channel_id"]),
            user_id=str(body["user_id"]),
            subcommand=name,
            arguments=arguments,
            trigger_id=str(body.get("trigger_id", "")),
            channel_name=str(body.get("channel_name", "")),
        )
        # Answer inside Slack's 3 seconds; handlers do slow work (posting, scheduling) through the outbox.
        reply = await answer(router, request, context)
        if reply is None:
            await ack()
            return
        text, blocks = render_message(reply)
        await ack(text=text, blocks=blocks or None, response_type="ephemeral")
