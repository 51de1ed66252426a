"""Teams dialogs about one poll or meeting: the one a button opens (task/fetch) for the id it carries, and the one
sent back (task/submit), read only for the person who opened it in this conversation."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from sqlalchemy.ext.asyncio import AsyncSession

from bot.context import AppContext
from bot.teams.cards import submitted
from habits.form_origin import SentForm, read_origin
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


def form_about_subject(invoke: Invoke) -> SentForm | None:
    """The dialog sent, if this person opened it about a poll or meeting of this conversation; else None."""
    form = submitted(invoke.data)
    origin = read_origin(form.context, user_id=invoke.user_id, channel_id=invoke.channel_id)
    if origin is None or origin.subject_id is None:
        return None
    return SentForm(
        workspace_id=invoke.workspace_id,
        user_id=invoke.user_id,
        channel_id=origin.channel_id,
        subject_id=origin.subject_id,
        values=form.values,
    )
