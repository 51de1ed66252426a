"""Admin rights checked at each step of an admin's dialog on Teams: rights may change while a dialog is open, and
anyone could send its submission."""

from __future__ import annotations

from bot.context import AppContext
from bot.gateways import TEAMS
from habits.messages import Message
from handlers.commands.admin_rights import refusal_unless_person_is_admin
from handlers.teams.invokes import Invoke, InvokeResponse, dialog_message


async def refusal_unless_admin(invoke: Invoke, context: AppContext, *, refusal: Message) -> InvokeResponse | None:
    """None for one of whoelse's admins; else the dialog answered with `refusal`, or with why their rights could
    not be checked."""
    refused = await refusal_unless_person_is_admin(
        context, workspace_id=invoke.workspace_id, user_id=invoke.user_id, platform=TEAMS, refusal=refusal
    )
    return None if refused is None else dialog_message(refused.text)
