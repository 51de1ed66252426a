"""Opening a form in answer to a click or a command, and telling the person when Slack would not open it."""

from __future__ import annotations

import logging
import uuid

from bot.context import AppContext
from bot.gateway import DeliveryError
from habits.messages import Dialog, Message
from models.db import session_scope
from models.outbox import enqueue

logger = logging.getLogger(__name__)

NOT_OPENED = "Sorry, Slack didn't let me open that form just now. Please try again in a moment."


async def open_dialog(
    context: AppContext,
    *,
    trigger_id: str,
    dialog: Dialog,
    workspace_id: str,
    channel_id: str,
    user_id: str,
    thread_ts: str | None = None,
) -> None:
    """Opens the form; when Slack refuses (an expired trigger, an outage), says so to the person who asked, who
    would otherwise see nothing happen."""
    try:
        await (await context.gateway_for(workspace_id)).open_dialog(trigger_id=trigger_id, dialog=dialog)
        return
    except DeliveryError:
        logger.exception("could not open the %s form", dialog.callback_id, extra={"workspace": workspace_id})
    if not channel_id:
        return
    async with session_scope(context.sessions) as session:
        await enqueue(
            session,
            workspace_id=workspace_id,
            idempotency_key=f"form-not-opened:{uuid.uuid4().hex}",
            channel_id=channel_id,
            ephemeral_user_id=user_id,
            thread_ts=thread_ts,
            message=Message(text=NOT_OPENED),
            not_before=context.clock(),
        )
    context.delivery.wake()
