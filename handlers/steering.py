"""Who is asking, as far as steering rights go: their admin flag read from their platform when it matters."""

from __future__ import annotations

import logging

from bot.context import AppContext
from bot.gateway import DeliveryError
from habits.steering import Steerer, may_steer
from models.db import session_scope
from models.workspaces import STEERING_ANYONE, get_or_create_workspace

logger = logging.getLogger(__name__)


async def steerer_of(context: AppContext, *, workspace_id: str, user_id: str) -> Steerer:
    """The person with their admin flag; someone whose profile cannot be read now is treated as no admin."""
    try:
        gateway = await context.gateway_for(workspace_id)
        person = await gateway.person(user=user_id)
    except DeliveryError:
        logger.warning("could not look up a person's admin rights; treating them as no admin")
        return Steerer(user_id=user_id, is_admin=False)
    return Steerer(user_id=user_id, is_admin=person.is_admin)


async def may_steer_here(context: AppContext, *, workspace_id: str, user_id: str, creator: str | None) -> bool:
    """Whether this person may start, stop or reschedule something `creator` set up, under the workspace's rule."""
    async with session_scope(context.sessions) as session:
        steering = (await get_or_create_workspace(session, workspace_id=workspace_id)).poll_steering
    if steering == STEERING_ANYONE:
        return True
    steerer = await steerer_of(context, workspace_id=workspace_id, user_id=user_id)
    return may_steer(steering, steerer, creator=creator)
