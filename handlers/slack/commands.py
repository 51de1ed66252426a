"""`/whoelse <subcommand> …`: one Slack command, routed to the feature that owns each subcommand."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from slack_bolt.async_app import AsyncAck, AsyncApp

from bot.context import AppContext
from bot.slack.blocks import SLASH_COMMAND, render_message
from habits.command_help import CommandHelp, help_message, unknown_command, unknown_words, usage
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


@dataclass(frozen=True)
class Subcommand:
    handler: SubcommandHandler
    help: CommandHelp
    # Place in the help list: what people need first comes first.
    order: int

    @property
    def takes_arguments(self) -> bool:
        return " " in self.help.syntax


@dataclass
class CommandRouter:
    subcommands: dict[str, Subcommand] = field(default_factory=dict)

    def add(self, handler: SubcommandHandler, *, syntax: str, summary: str, order: int) -> None:
        """`syntax` is how the subcommand is typed after `/whoelse`: "nudge <topic>"; a bare name takes nothing."""
        entry = CommandHelp(syntax=syntax, summary=summary)
        if entry.name in self.subcommands:
            raise ValueError(f"/whoelse {entry.name} is registered twice")
        self.subcommands[entry.name] = Subcommand(handler=handler, help=entry, order=order)

    def help_message(self, preface: str | None = None) -> Message:
        ordered = sorted(
            self.subcommands.values(), key=lambda subcommand: (subcommand.order, subcommand.help.name)
        )
        return help_message([subcommand.help for subcommand in ordered], preface)

    def usage(self, name: str) -> str:
        return usage(self.subcommands[name].help)

    def refuse_arguments(self, name: str, arguments: str) -> Message:
        """For a subcommand that takes nothing after its name: what was typed is named, with the right syntax."""
        unknown = unknown_words(arguments, after=name)
        if name == "help":
            return self.help_message(unknown)
        return Message(text=f"{unknown}\n{self.usage(name)}")


def parse(text: str) -> tuple[str, str]:
    words = text.strip().split(maxsplit=1)
    if not words:
        return "help", ""
    return words[0].lower(), words[1].strip() if len(words) > 1 else ""


def register(bolt: AsyncApp, context: AppContext, router: CommandRouter) -> None:
    async def show_help(request: CommandRequest, _context: AppContext) -> Message:
        return router.help_message()

    router.add(show_help, syntax="help", summary="this list of what whoelse can do", order=0)

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
        subcommand = router.subcommands.get(name)
        if subcommand is None:
            reply: Message | None = router.help_message(unknown_command(name))
        elif arguments and not subcommand.takes_arguments:
            reply = router.refuse_arguments(name, arguments)
        else:
            # Answer inside Slack's 3 seconds; handlers do slow work (posting, scheduling) through the outbox.
            reply = await subcommand.handler(request, context)
        if reply is None:
            await ack()
            return
        text, blocks = render_message(reply)
        await ack(text=text, blocks=blocks or None, response_type="ephemeral")
