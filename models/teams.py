"""Where whoelse can reach a Teams conversation: the conversation reference kept from the activities Teams sends.

Teams posts are proactive (a nudge or a weekly poll is not an answer to anything the user just said), and the Bot
Connector must be called at the service URL Teams gave for that conversation, region path included. Each reference
belongs to one tenant (the workspace) and is only ever read back with that tenant's id.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, String, select, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Mapped, mapped_column

from models.base import PLATFORM_ID_LENGTH, Base, utcnow

PERSONAL = "personal"
CHANNEL = "channel"
GROUP_CHAT = "groupChat"


class TeamsConversation(Base):
    __tablename__ = "teams_conversations"

    workspace_id: Mapped[str] = mapped_column(ForeignKey("workspaces.id"), primary_key=True)
    conversation_id: Mapped[str] = mapped_column(String(PLATFORM_ID_LENGTH), primary_key=True)
    service_url: Mapped[str] = mapped_column(String(2000))
    conversation_type: Mapped[str] = mapped_column(String(16))
    # The team a channel conversation belongs to; the person a personal chat is with.
    team_id: Mapped[str | None] = mapped_column(String(PLATFORM_ID_LENGTH))
    user_id: Mapped[str | None] = mapped_column(String(PLATFORM_ID_LENGTH), index=True)
    installed: Mapped[bool] = mapped_column(default=True)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)


async def remember_conversation(
    session: AsyncSession,
    *,
    workspace_id: str,
    conversation_id: str,
    service_url: str,
    conversation_type: str,
    team_id: str | None = None,
    user_id: str | None = None,
    installed: bool = True,
) -> TeamsConversation:
    """Records (or refreshes) a reference: Teams may move a conversation to another service URL at any time."""
    reference = await session.get(TeamsConversation, (workspace_id, conversation_id))
    if reference is None:
        reference = TeamsConversation(workspace_id=workspace_id, conversation_id=conversation_id)
        session.add(reference)
    reference.service_url = service_url
    reference.conversation_type = conversation_type
    reference.team_id = team_id or reference.team_id
    reference.user_id = user_id or reference.user_id
    reference.installed = installed
    reference.updated_at = utcnow()
    await session.flush()
    return reference


async def find_conversation(
    session: AsyncSession, *, workspace_id: str, conversation_id: str
) -> TeamsConversation | None:
    return await session.get(TeamsConversation, (workspace_id, conversation_id))


async def personal_conversation(
    session: AsyncSession, *, workspace_id: str, user_id: str
) -> TeamsConversation | None:
    return await session.scalar(
        select(TeamsConversation).where(
            TeamsConversation.workspace_id == workspace_id,
            TeamsConversation.user_id == user_id,
            TeamsConversation.conversation_type == PERSONAL,
        )
    )


async def latest_conversation(session: AsyncSession, *, workspace_id: str) -> TeamsConversation | None:
    """The tenant's most recently seen conversation: its service URL starts new chats, its members are the tenant's."""
    return await session.scalar(
        select(TeamsConversation)
        .where(TeamsConversation.workspace_id == workspace_id, TeamsConversation.installed.is_(True))
        .order_by(TeamsConversation.updated_at.desc())
        .limit(1)
    )


async def mark_uninstalled(
    session: AsyncSession, *, workspace_id: str, team_id: str | None, conversation_id: str
) -> int:
    """The bot was removed: nothing more goes to the team's conversations (or to this chat)."""
    condition = (
        TeamsConversation.team_id == team_id if team_id else TeamsConversation.conversation_id == conversation_id
    )
    result = await session.execute(
        update(TeamsConversation)
        .where(TeamsConversation.workspace_id == workspace_id, condition)
        .values(installed=False, updated_at=utcnow())
        .execution_options(synchronize_session=False)
    )
    return int(result.rowcount)  # type: ignore[attr-defined]
