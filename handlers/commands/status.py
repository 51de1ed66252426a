"""`/whoelse status`: scheduler and delivery health, for workspace admins."""

from __future__ import annotations

import logging

from bot.context import AppContext
from bot.gateway import DeliveryError
from habits.messages import Message
from habits.status import admins_only, status_report
from handlers.commands import CommandRequest, CommandRouter
from handlers.slack.slack_trouble import trouble_asking_slack
from models.db import session_scope

logger = logging.getLogger(__name__)


async def show_status(request: CommandRequest, context: AppContext) -> Message:
    try:
        person = await context.gateway.person(user=request.user_id)
    except DeliveryError as error:
        logger.exception("could not look up %s to check admin rights for /whoelse status", request.user_id)
        return Message(text=trouble_asking_slack(error, to="check your admin rights"))
    if not person.is_admin:
        return admins_only()
    async with session_scope(context.sessions) as session:
        return await status_report(
            session,
            workspace_id=request.workspace_id,
            scheduler_role=context.scheduler_role,
            now=context.clock(),
            default_timezone=context.settings.default_timezone,
        )


def add_commands(router: CommandRouter) -> None:
    router.add(show_status, syntax="status", summary="scheduler and delivery health (admins)", order=90)
