"""People's Teams display names, for cards and dialogs that would otherwise show their ids."""

from __future__ import annotations

import asyncio
import logging

from bot.context import AppContext
from bot.gateway import DeliveryError

logger = logging.getLogger(__name__)


async def display_names(context: AppContext, workspace_id: str, users: list[str]) -> dict[str, str]:
    """Display names, as the Bot Connector gives them; a name it cannot give is left out (the id shows instead)."""
    gateway = await context.gateway_for(workspace_id)

    async def name(user: str) -> str | None:
        try:
            found = (await gateway.person(user=user)).name
        except DeliveryError:
            logger.warning("could not read the Teams name of a person", extra={"user": user})
            return None
        return found if found != user else None

    found = await asyncio.gather(*(name(user) for user in users))
    return {user: name for user, name in zip(users, found, strict=True) if name}
