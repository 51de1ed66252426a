"""Posts by CRM and helpdesk bots in Teams channels that watch deals or tickets become deal and ticket events, through
the same parsing and intake as Slack's bot posts (handlers/slack/events.py).

Teams shows a bot a channel's messages that do not mention it only once a team owner has granted the app's
resource-specific consent (`ChannelMessage.Read.Group`, asked for in bot/teams/package.py). Of those, whoelse takes
only what an app posted, never what a person wrote: a person's message is conversation, not a notification, and is
neither answered nor stored. What counts as an app's post is what the Bot Framework says about its sender:

- `from.role` is "bot" (the Bot Framework's own marker for a bot account), or
- `from.id` is a Bot Framework bot id, "28:<app id>": the id every Teams bot posts under, the apps behind CRM and
  helpdesk integrations among them (and Microsoft's Workflows app, which posts what a Power Automate flow or an
  incoming webhook sends). People post under "29:…" ids with their Entra object id.

Microsoft documents the consent for people's messages; which other apps' posts Teams shows a bot is not documented,
so the README points to the CRM's webhook (`connect <source>`) for a tenant whose CRM posts do not arrive.

whoelse's own posts (its nudges and replies) are never taken in: their sender is the activity's recipient.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from microsoft_agents.activity import Activity

from bot.context import AppContext
from habits.bot_posts import TEAMS_SOURCE, BotPost, kind_in_channel, parse_bot_post
from handlers.teams.post_text import PostReader

if TYPE_CHECKING:
    from handlers.teams.activities import Conversation

logger = logging.getLogger(__name__)

BOT_ROLE = "bot"
BOT_ID_PREFIX = "28:"
# New posts only: an edit or a deletion is not a new notification.
NEW_POST = "message"


def from_an_app(activity: Activity) -> bool:
    """Whether another bot or app posted this (see the module's docstring), never whoelse itself."""
    sender = activity.from_property
    if sender is None or not sender.id:
        return False
    if activity.recipient is not None and sender.id == activity.recipient.id:
        return False
    return sender.role == BOT_ROLE or sender.id.startswith(BOT_ID_PREFIX)


def bot_post_from(activity: Activity, where: Conversation) -> BotPost | None:
    """An app's new channel post as plain lines and links, or None when it has no words or no id."""
    if activity.type != NEW_POST or not activity.id or where.conversation_type != "channel":
        return None
    reader = PostReader()
    reader.add_html(activity.text)
    for attachment in activity.attachments or []:
        reader.add_attachment(attachment.model_dump(by_alias=True, exclude_none=True))
    if not reader.lines:
        return None
    # A post in a thread is answered in that thread; a new post starts its own.
    in_thread = where.thread_root if where.thread_root and where.thread_root != activity.id else None
    return BotPost(
        channel_id=where.conversation_id,
        ts=str(activity.id),
        lines=tuple(reader.lines),
        links=tuple(reader.links),
        thread_ts=in_thread,
    )


async def take_in_bot_post(context: AppContext, activity: Activity, where: Conversation) -> int | None:
    """Stores the event an app's post in a watching channel announces; returns its id (None: nothing new stored).

    Raises what the intake raises when the event cannot be stored (a database error, a timeout), so that the Bot
    Connector is answered an error rather than told a post it may resend was taken in.
    """
    if context.watched is None or context.intake is None:
        return None
    kinds = await context.watched.kinds(workspace_id=where.tenant_id, channel_id=where.conversation_id)
    if not kinds:
        return None
    post = bot_post_from(activity, where)
    if post is None:
        return None
    parsed = parse_bot_post(post, kind=kind_in_channel(kinds, post), source=TEAMS_SOURCE)
    if parsed is None:
        logger.debug("Teams bot post %s:%s announces no deal or ticket moment", post.channel_id, post.ts)
        return None
    # Teams may deliver an activity again; its conversation and id make the repeat a no-op.
    event_id = await context.intake.accept(workspace_id=where.tenant_id, event=parsed)
    logger.info(
        "Teams bot post in a watched channel",
        extra={"channel": post.channel_id, "ts": post.ts, "event_id": event_id, "repeat": event_id is None},
    )
    return event_id
