"""The everyday `/whoelse` subcommands: watch, unwatch, nudge, snooze and stats.

Each answers inside Slack's three seconds with a reply only the caller sees; posting to the channel goes through
the outbox.
"""

from __future__ import annotations

import logging

from slack_bolt.async_app import AsyncApp

from bot.context import AppContext
from bot.gateway import DeliveryError
from bot.slack.typed_text import typed
from habits import watching
from habits.messages import Message, command
from habits.nudging import nudge_by_hand
from habits.snoozing import SnoozeInputError, apply_snooze, read_snooze
from habits.stats import channel_stats_message
from handlers.commands import CommandRequest, CommandRouter
from handlers.slack import settings_view
from handlers.slack.home import refresh_home
from models.db import session_scope

logger = logging.getLogger(__name__)

NUDGE_SYNTAX = "nudge <topic>"
NUDGE_USAGE = (
    f"Usage: {command(NUDGE_SYNTAX)}, e.g. {command('nudge Acme renewal pricing')}. "
    "whoelse asks this channel who else needs to know and what else we can help with."
)


async def watch(request: CommandRequest, context: AppContext) -> Message:
    async with session_scope(context.sessions) as session:
        reply = await watching.watch(
            session,
            workspace_id=request.workspace_id,
            channel_id=request.channel_id,
            user_id=request.user_id,
            arguments=request.arguments,
            default_timezone=context.settings.default_timezone,
            direct_message=_is_direct_message(request),
        )
    _forget_watching(request, context)
    return reply


async def unwatch(request: CommandRequest, context: AppContext) -> Message:
    async with session_scope(context.sessions) as session:
        reply = await watching.unwatch(
            session, workspace_id=request.workspace_id, channel_id=request.channel_id, arguments=request.arguments
        )
    _forget_watching(request, context)
    return reply


def _is_direct_message(request: CommandRequest) -> bool:
    """A DM (D…, "directmessage") or a group DM ("mpdm-…", whose id looks like a private channel's)."""
    name = request.channel_name
    return request.channel_id.startswith("D") or name == "directmessage" or name.startswith("mpdm-")


def _forget_watching(request: CommandRequest, context: AppContext) -> None:
    """After the change is committed, so the next bot post here reads the new answer."""
    if context.watched is not None:
        context.watched.forget(workspace_id=request.workspace_id, channel_id=request.channel_id)


async def nudge(request: CommandRequest, context: AppContext) -> Message:
    # Someone's words, reposted by the bot: only the people they mentioned may be pinged.
    topic = typed(" ".join(request.arguments.split()))
    if not topic:
        return Message(text=NUDGE_USAGE)
    async with session_scope(context.sessions) as session:
        await nudge_by_hand(
            session,
            workspace_id=request.workspace_id,
            channel_id=request.channel_id,
            user_id=request.user_id,
            text=topic,
            now=context.clock(),
        )
    # Committed above, so the delivery worker finds the row as soon as it wakes.
    context.delivery.wake()
    return Message(
        text=f"Asked the channel who else needs to know about *{topic}*, and what else we can help with."
    )


async def snooze(request: CommandRequest, context: AppContext) -> Message:
    try:
        action = read_snooze(request.arguments)
    except SnoozeInputError as error:
        return Message(text=str(error))
    timezone = None if action == "off" else await _timezone_of(request, context)
    async with session_scope(context.sessions) as session:
        reply = await apply_snooze(
            session,
            workspace_id=request.workspace_id,
            user_id=request.user_id,
            action=action,
            now=context.clock(),
            timezone=timezone,
            default_timezone=context.settings.default_timezone,
        )
    refresh_home(context, workspace_id=request.workspace_id, user_id=request.user_id)
    return reply


async def _timezone_of(request: CommandRequest, context: AppContext) -> str | None:
    """The person's own time zone, or None when their platform cannot say (right now, or at all)."""
    try:
        gateway = await context.gateway_for(request.workspace_id)
        return (await gateway.person(user=request.user_id)).timezone or None
    except DeliveryError:
        logger.exception("could not look up the time zone of %s", request.user_id)
        return None


async def stats(request: CommandRequest, context: AppContext) -> Message:
    async with session_scope(context.sessions) as session:
        return await channel_stats_message(
            session, workspace_id=request.workspace_id, channel_id=request.channel_id, now=context.clock()
        )


def add_commands(router: CommandRouter) -> None:
    router.add(
        nudge,
        syntax=NUDGE_SYNTAX,
        summary="ask this channel who else needs to know about a topic, and what else we can help with",
        order=10,
        on_teams=True,
    )
    router.add(
        watch,
        syntax=watching.WATCH_SYNTAX,
        summary="turn posts in this channel by your CRM (deals) or helpdesk (tickets) into nudges",
        order=20,
        on_teams=True,
    )
    router.add(
        unwatch,
        syntax=watching.UNWATCH_SYNTAX,
        summary="stop turning this channel's deal or ticket posts into nudges",
        order=30,
        on_teams=True,
    )
    router.add(
        stats,
        syntax="stats",
        summary="how this channel answered its nudges in the last 7 and 30 days",
        order=40,
        on_teams=True,
    )
    router.add(
        snooze,
        syntax="snooze <30m|4h|2d|1w>|off",
        summary="no pings or reminder DMs for a while (up to 90 days); `off` ends it early",
        order=50,
        on_teams=True,
    )


def register(bolt: AsyncApp, context: AppContext, router: CommandRouter) -> None:
    settings_view.register(bolt, context)
