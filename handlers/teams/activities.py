"""What whoelse does with each Teams activity, once the request carrying it has been authenticated.

Installs and uninstalls keep the conversation references that proactive posts need; messages to the bot are
commands. Where Teams shows whoelse every message of a channel (its resource-specific consent), a message that does
not mention whoelse is a CRM or helpdesk bot's post to take in (handlers/teams/bot_posts.py) or a person's words,
which whoelse neither answers nor stores. Replies go through the outbox like every other post, so pacing, retries and 429s are handled in one place.
A message from a conversation whoelse already knows costs at most one transaction: its reference is not written
again while unchanged, and its reply shares a batch with the replies to other messages of the moment.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from microsoft_agents.activity import Activity
from sqlalchemy import Table, select
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncEngine

from bot.context import AppContext
from bot.gateways import TEAMS
from bot.group_commit import GroupCommitter
from bot.teams.gateway import THREAD_MARKER
from habits.messages import Message, command
from handlers.commands import CommandRequest, CommandRouter, answer, parse
from handlers.teams.bot_posts import from_an_app, take_in_bot_post
from handlers.teams.invokes import Invoke, InvokeHandler, InvokeResponse, answer_invoke, read_invoke
from handlers.teams.invokes import message as short_answer
from handlers.teams.known_conversations import KnownConversations, StoredReference
from models.base import utcnow
from models.db import session_scope
from models.outbox import PENDING, OutboxMessage, enqueue
from models.teams import PERSONAL, mark_uninstalled, remember_conversation
from models.workspaces import Workspace, get_or_create_workspace

logger = logging.getLogger(__name__)

BOT_MENTION = re.compile(r"<at>[^<]*</at>", re.IGNORECASE)
NOT_ON_TEAMS_YET = "`{name}` is coming to Teams but does not work here yet. Type help to see what does."
OTHER_PLATFORM = (
    "whoelse cannot answer here: this Microsoft 365 tenant's id is already the id of a workspace on another chat "
    "platform. Ask whoever runs whoelse to check which workspace this tenant belongs to."
)
# How a conversation reads to commands that care: only channels can watch deals or tickets.
CHANNEL_NAMES = {"personal": "directmessage", "groupChat": "mpdm-teams-group-chat"}
NOT_STORED = "the post could not be stored; please retry"
WELCOME = (
    "Hi, I'm *whoelse*. At the moments that matter I ask two questions: *Who else needs to know?* and "
    f"*What else can we help with?* Type {command('help')} to see what I can do."
)


@dataclass(frozen=True)
class Conversation:
    tenant_id: str
    conversation_id: str
    conversation_type: str
    service_url: str
    team_id: str | None
    # Where a reply goes: the root message of the channel thread the activity came from, if any.
    thread_root: str | None


def conversation_of(activity: Activity) -> Conversation | None:
    """Where the activity came from, or None when it names no tenant or conversation (nothing to act on)."""
    channel_data: dict[str, Any] = activity.channel_data if isinstance(activity.channel_data, dict) else {}
    conversation = activity.conversation
    tenant = (conversation.tenant_id if conversation else None) or (channel_data.get("tenant") or {}).get("id")
    if conversation is None or not conversation.id or not tenant or not activity.service_url:
        return None
    base, _, root = conversation.id.partition(THREAD_MARKER)
    kind = conversation.conversation_type or PERSONAL
    thread_root = root or (activity.id if kind == "channel" and activity.type == "message" else None)
    return Conversation(
        tenant_id=str(tenant),
        conversation_id=base,
        conversation_type=kind,
        service_url=activity.service_url,
        team_id=(channel_data.get("team") or {}).get("id"),
        thread_root=thread_root,
    )


async def dispatch(
    activity: Activity,
    context: AppContext,
    commands: CommandRouter,
    invokes: Mapping[str, InvokeHandler] | None = None,
    known: KnownConversations | None = None,
    replies: GroupCommitter | None = None,
) -> InvokeResponse | None:
    """`known`: the references already stored (none: each message writes its own). `replies`: the outbox's shared
    batches, which queue each reply to a message in one transaction with the replies to other messages of the
    moment (none: each in a transaction of its own)."""
    where = conversation_of(activity)
    if where is None:
        logger.info("Teams activity without a tenant or conversation ignored", extra={"type": activity.type})
        return None
    known = known if known is not None else KnownConversations()
    bot_id = activity.recipient.id if activity.recipient else None
    if activity.type == "conversationUpdate":
        added = {member.id for member in activity.members_added or []}
        removed = {member.id for member in activity.members_removed or []}
        if bot_id in added:
            return await _installed(context, where, known, welcome=True)
        if bot_id in removed:
            await _uninstalled(context, where, known)
        return None
    if activity.type == "installationUpdate":
        if (activity.action or "").startswith("remove"):
            await _uninstalled(context, where, known)
            return None
        return await _installed(context, where, known, welcome=False)
    if activity.type == "invoke":
        if await _platform_of(context, where, known) not in (None, TEAMS):
            return _refused_tenant(where, invoke=True)
        return await _invoke(activity, where, context, invokes or {})
    if activity.type == "message":
        if where.conversation_type != PERSONAL and not _mentions_whoelse(activity, bot_id):
            return await _unmentioned(activity, where, context, known)
        refused = await _installed(
            context, where, known, welcome=False, user_id=_personal_user(activity, where), skip_if_known=True
        )
        if refused is not None:
            return refused
        reply = await _answer_command(activity, where, context, commands)
        if reply is None:
            return None
        reply_key = f"teams-reply:{where.conversation_id}:{activity.id}"
        if replies is None:
            await _reply(context, where, reply_key=reply_key, message=reply)
        else:
            await replies.insert(reply_row(where, reply_key=reply_key, message=reply))
            context.delivery.wake()
        return None
    return None


def _mentions_whoelse(activity: Activity, bot_id: str | None) -> bool:
    """Outside a one-to-one chat, a message is for whoelse only when it mentions whoelse."""
    return bot_id is not None and activity.get_account_mention(bot_id) is not None


async def _unmentioned(
    activity: Activity, where: Conversation, context: AppContext, known: KnownConversations
) -> InvokeResponse | None:
    """A channel message not addressed to whoelse: an app's post is taken in if the channel watches deals or
    tickets; anything else (a person's words) is left alone, unanswered and unstored."""
    if not from_an_app(activity):
        return None
    platform = await _platform_of(context, where, known)
    if platform is None:
        # No workspace for this tenant: no channel of it can watch anything.
        return None
    if platform != TEAMS:
        return _refused_tenant(where, invoke=False)
    try:
        await take_in_bot_post(context, activity, where)
    except (SQLAlchemyError, OSError):  # OSError includes TimeoutError: the database did not answer in time.
        logger.exception("could not store a Teams bot post", extra={"workspace": where.tenant_id})
        return InvokeResponse(503, {"error": NOT_STORED})
    return None


async def _answer_command(
    activity: Activity, where: Conversation, context: AppContext, commands: CommandRouter
) -> Message | None:
    """A message to the bot is a command, typed as on Slack but without `/whoelse`."""
    name, arguments = parse(BOT_MENTION.sub("", activity.text or ""))
    subcommand = commands.subcommands.get(name)
    if subcommand is not None and not subcommand.on_teams:
        return Message(text=NOT_ON_TEAMS_YET.format(name=name))
    request = CommandRequest(
        workspace_id=where.tenant_id,
        channel_id=where.conversation_id,
        user_id=person_id(activity),
        subcommand=name,
        arguments=arguments,
        trigger_id="",
        channel_name=CHANNEL_NAMES.get(where.conversation_type, ""),
        platform=TEAMS,
    )
    return await answer(commands, request, context)


async def _invoke(
    activity: Activity, where: Conversation, context: AppContext, invokes: Mapping[str, InvokeHandler]
) -> InvokeResponse | None:
    read = read_invoke(activity)
    if read is None:
        return None
    verb, data = read
    invoke = Invoke(
        name=str(activity.name),
        verb=verb,
        data=data,
        workspace_id=where.tenant_id,
        channel_id=where.conversation_id,
        thread_root=where.thread_root,
        user_id=person_id(activity),
        activity=activity,
    )
    return await answer_invoke(invoke, context, invokes)


def person_id(activity: Activity) -> str:
    """Who sent it, as whoelse knows people on Teams: their Entra object id, which Teams' people search and
    mentions use too (the Bot Framework's own "29:…" id only when there is none)."""
    sender = activity.from_property
    if sender is None:
        return ""
    return sender.aad_object_id or sender.id


def _personal_user(activity: Activity, where: Conversation) -> str | None:
    if where.conversation_type == PERSONAL and activity.from_property:
        return person_id(activity)
    return None


async def _installed(
    context: AppContext,
    where: Conversation,
    known: KnownConversations,
    *,
    welcome: bool,
    user_id: str | None = None,
    skip_if_known: bool = False,
) -> InvokeResponse | None:
    """Keeps the conversation reference (for a message, unless this very one is already stored: an install is
    always written, since another replica may have recorded the removal before it); a refusal when the tenant id
    names a workspace of another platform, whose data a Teams activity must never reach."""
    reference = StoredReference(
        service_url=where.service_url,
        conversation_type=where.conversation_type,
        team_id=where.team_id,
        user_id=user_id,
    )
    if skip_if_known and known.unchanged(where.tenant_id, where.conversation_id, reference):
        return None
    async with session_scope(context.sessions) as session:
        workspace = await get_or_create_workspace(
            session,
            workspace_id=where.tenant_id,
            default_timezone=context.settings.default_timezone,
            platform=TEAMS,
        )
        if workspace.platform != TEAMS:
            return _refused_tenant(where, invoke=False)
        await remember_conversation(
            session,
            workspace_id=where.tenant_id,
            conversation_id=where.conversation_id,
            service_url=reference.service_url,
            conversation_type=reference.conversation_type,
            team_id=reference.team_id,
            user_id=reference.user_id,
        )
    known.remember(where.tenant_id, where.conversation_id, reference)
    if welcome:
        await _reply(
            context,
            where,
            reply_key=f"teams-welcome:{where.conversation_id}",
            message=Message(text=WELCOME),
            threaded=False,
        )
    return None


async def _platform_of(context: AppContext, where: Conversation, known: KnownConversations) -> str | None:
    """The platform of the workspace the tenant id names (None when whoelse has no such workspace yet)."""
    if known.has_tenant(where.tenant_id):
        return TEAMS
    async with context.sessions() as session:
        platform = await session.scalar(select(Workspace.platform).where(Workspace.id == where.tenant_id))
    if platform == TEAMS:
        known.add_tenant(where.tenant_id)
    return platform


def _refused_tenant(where: Conversation, *, invoke: bool) -> InvokeResponse:
    """Nothing is read, written or queued for it: a reply would be queued in the other platform's workspace."""
    logger.warning(
        "a Teams activity named a tenant whose id is another platform's workspace; refused",
        extra={"workspace": where.tenant_id},
    )
    if invoke:
        return short_answer(OTHER_PLATFORM)
    return InvokeResponse(403, {"error": OTHER_PLATFORM})


async def _uninstalled(context: AppContext, where: Conversation, known: KnownConversations) -> None:
    async with session_scope(context.sessions) as session:
        stopped = await mark_uninstalled(
            session, workspace_id=where.tenant_id, team_id=where.team_id, conversation_id=where.conversation_id
        )
    known.forget(where.tenant_id)
    logger.info("whoelse was removed from a Teams conversation", extra={"conversations": stopped})


def reply_batches(engine: AsyncEngine) -> GroupCommitter:
    """The outbox's shared batches for replies, deduplicated like `enqueue` by workspace and idempotency key."""
    outbox: Table = OutboxMessage.__table__  # type: ignore[assignment]
    return GroupCommitter(engine, outbox, ("workspace_id", "idempotency_key"))


def reply_row(where: Conversation, *, reply_key: str, message: Message) -> dict[str, Any]:
    """The outbox row `enqueue` would write for this reply, for the shared batches (a repeat of the same message
    is a duplicate of the first row and queues nothing)."""
    now = utcnow()
    return {
        "workspace_id": where.tenant_id,
        "idempotency_key": reply_key[:255],
        "channel_id": where.conversation_id,
        "thread_ts": where.thread_root,
        "message": message.model_dump(mode="json"),
        "status": PENDING,
        "attempts": 0,
        "not_before": now,
        "created_at": now,
    }


async def _reply(
    context: AppContext, where: Conversation, *, reply_key: str, message: Message, threaded: bool = True
) -> None:
    async with session_scope(context.sessions) as session:
        await enqueue(
            session,
            workspace_id=where.tenant_id,
            idempotency_key=reply_key[:255],
            message=message,
            channel_id=where.conversation_id,
            thread_ts=where.thread_root if threaded else None,
        )
    context.delivery.wake()
