"""Commands people type to whoelse (`/whoelse nudge …` on Slack, `@whoelse nudge …` on Teams), routed to the
feature that owns each one. Platform-neutral: each platform's edge builds a CommandRequest and renders the reply."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

from bot.context import AppContext
from bot.gateways import SLACK
from habits.command_help import CommandHelp, help_message, unknown_command, unknown_words, usage
from habits.messages import Message


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
    # Where it was typed (bot.gateways.SLACK or TEAMS): the few replies that differ by platform read it.
    platform: str = SLACK


# A handler answers with a message only the caller sees (or None when it answers another way, e.g. a modal).
SubcommandHandler = Callable[[CommandRequest, AppContext], Awaitable[Message | None]]


@dataclass(frozen=True)
class Subcommand:
    handler: SubcommandHandler
    help: CommandHelp
    # Place in the help list: what people need first comes first.
    order: int
    # Works on Teams too: it needs no Slack form, and asks the platform nothing only Slack can answer yet.
    on_teams: bool = False

    @property
    def takes_arguments(self) -> bool:
        return " " in self.help.syntax


@dataclass
class CommandRouter:
    subcommands: dict[str, Subcommand] = field(default_factory=dict)

    def add(
        self, handler: SubcommandHandler, *, syntax: str, summary: str, order: int, on_teams: bool = False
    ) -> None:
        """`syntax` is how the subcommand is typed after `/whoelse`: "nudge <topic>"; a bare name takes nothing."""
        entry = CommandHelp(syntax=syntax, summary=summary)
        if entry.name in self.subcommands:
            raise ValueError(f"/whoelse {entry.name} is registered twice")
        self.subcommands[entry.name] = Subcommand(handler=handler, help=entry, order=order, on_teams=on_teams)

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


async def answer(router: CommandRouter, request: CommandRequest, context: AppContext) -> Message | None:
    """The reply to a command, however it was typed: the help for one whoelse does not know, the right syntax for
    words a command does not take, else what the command itself says (None when it answered another way)."""
    subcommand = router.subcommands.get(request.subcommand)
    if subcommand is None:
        return router.help_message(unknown_command(request.subcommand))
    if request.arguments and not subcommand.takes_arguments:
        return router.refuse_arguments(request.subcommand, request.arguments)
    return await subcommand.handler(request, context)


def with_help(router: CommandRouter) -> CommandRouter:
    async def show_help(request: CommandRequest, _context: AppContext) -> Message:
        return router.help_message()

    router.add(show_help, syntax="help", summary="this list of what whoelse can do", order=0, on_teams=True)
    return router
