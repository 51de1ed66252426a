"""`/whoelse watch` and `unwatch`: which channels turn deal and ticket news into nudges.

Posts by CRM or helpdesk bots in a watching channel become events. Webhook events that name no channel go to the
channel that has watched their kind the longest, its "home" channel, so the replies say when that home moves.
"""

from __future__ import annotations

from typing import get_args

from sqlalchemy.ext.asyncio import AsyncSession

from habits.command_help import unknown_words
from habits.messages import Message, channel_mention, command
from models.watches import WatchKind, home_channel, unwatch_channel, watch_channel, watched_kinds
from models.workspaces import get_or_create_workspace

KINDS: tuple[WatchKind, ...] = get_args(WatchKind)
_SPELLINGS: dict[str, WatchKind] = {"deals": "deals", "deal": "deals", "tickets": "tickets", "ticket": "tickets"}
SOURCES = {"deals": "your CRM", "tickets": "your helpdesk"}
NOT_IN_DIRECT_MESSAGES = (
    f"Only channels can watch deals or tickets, so nothing changed here. Run {command('watch deals')} (or tickets) "
    "in the channel where your CRM or helpdesk posts, or where your team talks about them."
)
WATCH_SYNTAX = "watch deals|tickets"
UNWATCH_SYNTAX = "unwatch deals|tickets"
_SYNTAX = {"watch": WATCH_SYNTAX, "unwatch": UNWATCH_SYNTAX}


def usage(verb: str, typed: str = "") -> str:
    """The right syntax, after naming what was `typed` if it was something whoelse does not know."""
    unknown = f"{unknown_words(typed, after=verb)}\n" if typed.strip() else ""
    return (
        f"{unknown}Usage: {command(_SYNTAX[verb])}. A watching channel gets a nudge when a "
        "deal or ticket posted here by your CRM or helpdesk reaches a key moment."
    )


def read_kind(arguments: str) -> WatchKind | None:
    return _SPELLINGS.get(arguments.strip().lower())


async def watch(
    session: AsyncSession,
    *,
    workspace_id: str,
    channel_id: str,
    user_id: str,
    arguments: str,
    default_timezone: str = "UTC",
    direct_message: bool = False,
) -> Message:
    if direct_message:
        # Webhook events would land in one person's DM, out of sight of everyone else who needs to know.
        return Message(text=NOT_IN_DIRECT_MESSAGES)
    kind = read_kind(arguments)
    if kind is None:
        return await _usage_with_current(
            session, "watch", arguments, workspace_id=workspace_id, channel_id=channel_id
        )
    await get_or_create_workspace(session, workspace_id=workspace_id, default_timezone=default_timezone)
    here = channel_mention(channel_id)
    added = await watch_channel(
        session, workspace_id=workspace_id, channel_id=channel_id, kind=kind, user_id=user_id
    )
    home = await home_channel(session, workspace_id=workspace_id, kind=kind)
    if not added:
        return Message(text=f"{here} already watches {kind}, so nothing changed.{_home_line(kind, home)}")
    return Message(
        text=(
            f"{here} now watches {kind}: posts about {kind} here from {SOURCES[kind]} become nudges at key "
            f"moments.{_home_line(kind, home)}"
        )
    )


async def unwatch(session: AsyncSession, *, workspace_id: str, channel_id: str, arguments: str) -> Message:
    kind = read_kind(arguments)
    if kind is None:
        return await _usage_with_current(
            session, "unwatch", arguments, workspace_id=workspace_id, channel_id=channel_id
        )
    here = channel_mention(channel_id)
    removed = await unwatch_channel(session, workspace_id=workspace_id, channel_id=channel_id, kind=kind)
    if not removed:
        return Message(text=f"{here} wasn't watching {kind}, so nothing changed.")
    home = await home_channel(session, workspace_id=workspace_id, kind=kind)
    if home is None:
        after = (
            f" No channel watches {kind} now, so {kind[:-1]} events from webhooks that name no channel "
            "will not be nudged."
        )
    else:
        after = _home_line(kind, home)
    return Message(text=f"{here} no longer watches {kind}.{after}")


def _home_line(kind: WatchKind, home: str | None) -> str:
    if home is None:
        return ""
    return f" {kind.capitalize()[:-1]} events from webhooks that name no channel go to {channel_mention(home)}."


async def _usage_with_current(
    session: AsyncSession, verb: str, typed: str, *, workspace_id: str, channel_id: str
) -> Message:
    watching = sorted(await watched_kinds(session, workspace_id=workspace_id, channel_id=channel_id))
    now = (
        f"{channel_mention(channel_id)} watches {' and '.join(watching)}."
        if watching
        else f"{channel_mention(channel_id)} watches nothing yet."
    )
    return Message(text=f"{usage(verb, typed)}\n{now}")
