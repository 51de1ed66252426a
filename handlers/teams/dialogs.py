"""The dialog a Teams button opens (task/fetch) for the poll or meeting whose id it carries."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from sqlalchemy.ext.asyncio import AsyncSession

from bot.context import AppContext
from habits.ids import parse_id
from habits.messages import Dialog
from handlers.teams.invokes import Invoke
from models.db import session_scope

DialogFor = Callable[[AsyncSession, int], Awaitable[Dialog | None]]


async def dialog_for_click(invoke: Invoke, context: AppContext, dialog_for: DialogFor) -> Dialog | None:
    """What `dialog_for` makes of the id the button carries; None when it carries none, or when `dialog_for`
    finds nothing this person may open from this conversation."""
    subject_id = parse_id(invoke.data.get("value"))
    if subject_id is None:
        return None
    async with session_scope(context.sessions) as session:
        return await dialog_for(session, subject_id)
