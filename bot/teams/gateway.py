"""ChatGateway over the Bot Connector, for one Teams tenant.

A gateway is bound to one tenant (workspace) and only reads that tenant's conversation references, so a reference
from one tenant is never used for another. Teams has no "only you can see this" message in a channel and no message
history for bots; those two differ from Slack and are said where they matter.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from datetime import datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.gateway import DeliveryError, PermanentError, Person, Posted, UserGroup
from bot.teams.card_text import Names, PostedIn
from bot.teams.connector import BotConnector, NotFound, conversation_path
from habits.messages import GROUP_PREFIX, MENTION, Dialog, Message
from models.teams import (
    PERSONAL,
    TeamsConversation,
    find_conversation,
    latest_conversation,
    personal_conversation,
    remember_conversation,
)

# Renders a neutral message into a Bot Framework message activity (text, card attachments, mention entities), with
# the display names of the people it mentions.
ActivityRenderer = Callable[[Message, Names], dict[str, Any]]
THREAD_MARKER = ";messageid="
logger = logging.getLogger(__name__)


def mentioned_people(message: Message) -> set[str]:
    """The people a message mentions (@{id} in any of its texts); groups and channels are named, not looked up."""
    return {target for target in MENTION.findall(message.model_dump_json()) if not target.startswith(GROUP_PREFIX)}


class TeamsGateway:
    def __init__(
        self,
        *,
        workspace_id: str,
        bot_id: str,
        sessions: async_sessionmaker[AsyncSession],
        connector: BotConnector,
        render: ActivityRenderer,
        admins: frozenset[str] = frozenset(),
    ) -> None:
        self.workspace_id = workspace_id
        # Entra object ids (lower case) of the people allowed whoelse's admin commands (TEAMS_ADMINS).
        self._admins = admins
        self.bot_id = bot_id
        self._sessions = sessions
        self._connector = connector
        self._render = render
        # Display names by user id, as the Bot Connector gave them: mentions on Teams need names.
        self._names: dict[str, str] = {}

    async def _reference(self, conversation_id: str) -> TeamsConversation:
        # A reply in a channel thread is addressed as "<conversation>;messageid=<root>"; the reference is the channel's.
        base = conversation_id.split(THREAD_MARKER, 1)[0]
        async with self._sessions() as session:
            reference = await find_conversation(session, workspace_id=self.workspace_id, conversation_id=base)
        if reference is None or not reference.installed:
            raise PermanentError("whoelse is not installed in this Teams conversation")
        return reference

    async def post(
        self, *, channel: str, message: Message, idempotency_key: str, thread_ts: str | None = None
    ) -> Posted:
        reference = await self._reference(channel)
        target = f"{channel}{THREAD_MARKER}{thread_ts}" if thread_ts else channel
        activity = await self._activity(message, reference)
        sent = await self._connector.call(
            "POST", reference.service_url, conversation_path(target, "activities"), activity
        )
        return Posted(channel=channel, ts=str(sent.get("id") or ""))

    async def _activity(self, message: Message, reference: TeamsConversation) -> dict[str, Any]:
        for user in mentioned_people(message) - self._names.keys():
            name = await self._member_name(reference, user)
            if name:
                self._names[user] = name
        return self._render(message, PostedIn(self._names, reference.conversation_id))

    async def _member_name(self, reference: TeamsConversation, user: str) -> str | None:
        try:
            member = await self._member(reference, user)
        except DeliveryError:
            # Someone no longer in the team, or the connector is busy: the mention shows their id instead.
            logger.warning("could not read the Teams name of a mentioned person", extra={"user": user})
            return None
        return str(member.get("name") or "") or None

    async def post_ephemeral(
        self, *, channel: str, user: str, message: Message, thread_ts: str | None = None
    ) -> None:
        """Teams channels have no message only one person sees: it goes to the person's chat with whoelse."""
        await self._reference(channel)
        personal = await self.open_direct(user=user)
        await self.post(channel=personal, message=message, idempotency_key="")

    async def update(self, *, channel: str, ts: str, message: Message) -> None:
        reference = await self._reference(channel)
        activity = {**(await self._activity(message, reference)), "id": ts}
        await self._connector.call(
            "PUT", reference.service_url, conversation_path(channel, "activities", ts), activity
        )

    async def find_posted(
        self, *, channel: str, idempotency_key: str, since: datetime, thread_ts: str | None = None
    ) -> str | None:
        """Bots cannot read a Teams conversation's history, so an earlier attempt that landed cannot be found."""
        return None

    async def open_direct(self, *, user: str) -> str:
        async with self._sessions() as session:
            known = await personal_conversation(session, workspace_id=self.workspace_id, user_id=user)
            latest = known or await latest_conversation(session, workspace_id=self.workspace_id)
        if known is not None and known.installed:
            return known.conversation_id
        if latest is None:
            raise PermanentError("whoelse has no conversation in this Teams tenant to start a chat from")
        service_url = latest.service_url
        created = await self._connector.call(
            "POST",
            service_url,
            "v3/conversations",
            {
                "bot": {"id": self.bot_id},
                "members": [{"id": user}],
                "isGroup": False,
                "tenantId": self.workspace_id,
                "channelData": {"tenant": {"id": self.workspace_id}},
            },
        )
        conversation_id = str(created.get("id") or "")
        if not conversation_id:
            raise PermanentError("the Bot Connector created a chat without an id")
        async with self._sessions() as session:
            await remember_conversation(
                session,
                workspace_id=self.workspace_id,
                conversation_id=conversation_id,
                service_url=service_url,
                conversation_type=PERSONAL,
                user_id=user,
            )
            await session.commit()
        return conversation_id

    async def join(self, *, channel: str) -> None:
        raise PermanentError("a Teams bot cannot add itself to a team; someone adds whoelse to it")

    async def open_dialog(self, *, trigger_id: str, dialog: Dialog) -> None:
        raise PermanentError("on Teams a dialog is the answer to the card action that asked for it")

    async def publish_home(self, *, user: str, message: Message) -> None:
        raise PermanentError("no Home tab on Teams")

    async def person(self, *, user: str) -> Person:
        reference = await self._any_reference(user)
        member = await self._member(reference, user)
        return Person(
            user_id=user,
            name=str(member.get("name") or member.get("givenName") or user),
            # The Bot Connector does not say; callers fall back to the workspace's time zone.
            timezone="",
            is_admin=self._is_admin(member),
            title=str(member.get("jobTitle") or ""),
        )

    async def _member(self, reference: TeamsConversation, user: str) -> Mapping[str, Any]:
        """A member by the id whoelse knows them by, their Entra object id. Teams finds members by it; a connector
        that finds them only by their Bot Framework id (the Microsoft 365 Agents Playground) is asked for the
        conversation's members instead, which name both."""
        try:
            found: Mapping[str, Any] = await self._connector.call(
                "GET", reference.service_url, conversation_path(reference.conversation_id, "members", user)
            )
        except NotFound:
            members = await self._connector.call(
                "GET", reference.service_url, conversation_path(reference.conversation_id, "members")
            )
            for member in members or []:
                # The member list names the object id `objectId`; a single member, `aadObjectId`.
                object_id = isinstance(member, dict) and (member.get("aadObjectId") or member.get("objectId"))
                if isinstance(object_id, str) and object_id.lower() == user.lower():
                    return {**member, "aadObjectId": object_id}
            raise
        return found

    def _is_admin(self, member: Mapping[str, Any]) -> bool:
        """Named in TEAMS_ADMINS, as a member of this very tenant, and not a guest in it.

        The member's `userRole` ("user", "guest") tells no tenant admin or team owner apart, so rights come from
        the setting; the tenant and guest checks keep someone named there from using them in another organisation.
        """
        object_id = str(member.get("aadObjectId") or "").lower()
        tenant = str(member.get("tenantId") or self.workspace_id).lower()
        return (
            bool(object_id)
            and object_id in self._admins
            and tenant == self.workspace_id.lower()
            and str(member.get("userRole") or "").lower() != "guest"
        )

    async def _any_reference(self, user: str) -> TeamsConversation:
        """A conversation to ask about this person in: their chat with whoelse, else the tenant's latest one."""
        async with self._sessions() as session:
            reference = await personal_conversation(
                session, workspace_id=self.workspace_id, user_id=user
            ) or await latest_conversation(session, workspace_id=self.workspace_id)
        if reference is None:
            raise PermanentError("whoelse is not installed anywhere in this Teams tenant")
        return reference

    async def channel_members(self, *, channel: str) -> list[str]:
        reference = await self._reference(channel)
        members = await self._connector.call(
            "GET", reference.service_url, conversation_path(reference.conversation_id, "members")
        )
        return [str(member["id"]) for member in members or [] if isinstance(member, dict) and member.get("id")]

    async def user_groups(self) -> list[UserGroup]:
        """Teams tags are not offered yet: nudges loop in people, not groups, on Teams."""
        return []

    async def person_by_email(self, *, email: str) -> Person | None:
        # The Bot Connector lists a conversation's members but cannot look anyone up by email (that takes Microsoft
        # Graph and its User.Read.All consent): on Teams, owners stay unmatched and are not mentioned.
        return None

    async def user_group_members(self, *, group: str) -> list[str]:
        return []
