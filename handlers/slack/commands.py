"""`/whoelse <subcommand> …`: one Slack command, routed to the feature that owns each subcommand."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from slack_bolt.async_app import AsyncAck, AsyncApp

from bot.context import AppContext
from bot.slack.blocks import render_message
from habits.messages import Message

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class CommandRequest:
    workspace_id: str
    channel_id: str
    user_id: str
    subcommand: str
    # Everything after the subcommand, stripped.
    arguments: str
    trigger_id: str
    # Slack's name for the conversation: "directmessage" for a DM, "mpdm-…" for a group DM.
    channel_name: str = ""


# A handler answers with a message only the caller sees (or None when it answers another way, e.g. a modal).
SubcommandHandler = Callable[[CommandRequest, AppContext], Awaitable[Message | None]]


@dataclass
class CommandRouter:
    handlers: dict[str, tuple[SubcommandHandler, str]] = field(default_factory=dict)

    def add(self, name: str, handler: SubcommandHandler, summary: str) -> None:
        if name in self.handlers:
            raise ValueError(f"/whoelse {name} is registered twice")
        self.handlers[name] = (handler, summary)

    def help_message(self, preface: str | None = None) -> Message:
        lines = [f"• `/whoelse {name}` — {summary}" for name, (_handler, summary) in sorted(self.handlers.items())]
        text = (
            preface + "\n\n" if preface else ""
        ) + "*whoelse* asks the two questions that keep teams in the loop:\n"
        return Message(text=text + "\n".join(lines))


def parse(text: str) -> tuple[str, str]:
    words = text.strip().split(maxsplit=1)
    if not words:
        return "help", ""
    return words[0].lower(), words[1].strip() if len(words) > 1 else ""


def register(bolt: AsyncApp, context: AppContext, router: CommandRouter) -> None:
    async def show_help(request: CommandRequest, _context: AppContext) -> Message:
        return router.help_message()

    router.add("help", show_help, "what whoelse can do")

    @bolt.command("/whoelse")
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
        entry = router.handlers.get(name)
        if entry is None:
            reply: Message | None = router.help_message(f"I don't know `/whoelse {name}`.")
        else:
            # Answer inside Slack's 3 seconds; handlers do slow work (posting, scheduling) through the outbox.
            reply = await entry[0](request, context)
        if reply is None:
            await ack()
            return
        text, blocks = render_message(reply)
        await ack(text=text, blocks=blocks or None, response_type="ephemeral")
