"""A short note only one person sees, in the channel they clicked in (a Slack ephemeral message): why a click did
nothing, or that it was noted. It goes through the outbox like every message."""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncSession

from habits.messages import Message
from models.outbox import enqueue
from models.workspaces import get_or_create_workspace


async def tell_privately(
    session: AsyncSession,
    *,
    workspace_id: str,
    channel_id: str,
    user_id: str,
    text: str,
    now: datetime | None = None,
    thread_ts: str | None = None,
    key: str | None = None,
) -> None:
    """Queues `text` for `user_id` alone; without a `key`, every note is a new one (each click deserves its answer)."""
    # A click can come from a workspace whoelse has not stored yet, and the outbox row needs one to belong to.
    await get_or_create_workspace(session, workspace_id=workspace_id)
    await enqueue(
        session,
        workspace_id=workspace_id,
        idempotency_key=key or f"note:{uuid.uuid4().hex}",
        channel_id=channel_id,
        ephemeral_user_id=user_id,
        message=Message(text=text),
        thread_ts=thread_ts,
        not_before=now,
    )
