"""The settings form on Teams: the "Change settings" button opens it (task/fetch) and sending it saves it
(task/submit). Admin rights are checked at both steps, as Slack checks them again on submission; a form with
mistakes comes back with what was typed and what to fix, and a saved one closes with what is now in force.
"""

from __future__ import annotations

import logging

from bot.context import AppContext
from bot.gateways import TEAMS
from bot.teams.cards import render_dialog, submitted
from habits.form_origin import NOT_YOUR_FORM, FormOrigin, read_origin
from habits.form_values import refilled
from habits.workspace_settings import (
    SETTINGS_DIALOG,
    InvalidSettings,
    read_settings,
    save_settings,
    saved_message,
    settings_dialog,
)
from handlers.commands.settings import OPEN_SETTINGS_BUTTON, refusal_for
from handlers.teams.admin_rights import refusal_unless_admin
from handlers.teams.invokes import Invoke, InvokeHandler, InvokeResponse, dialog_message
from models.db import session_scope
from models.workspaces import get_or_create_workspace

logger = logging.getLogger(__name__)


async def open_form(invoke: Invoke, context: AppContext) -> InvokeResponse:
    refused = await refusal_unless_admin(invoke, context, refusal=refusal_for(TEAMS))
    if refused is not None:
        return refused
    async with session_scope(context.sessions) as session:
        workspace = await get_or_create_workspace(
            session, workspace_id=invoke.workspace_id, default_timezone=context.settings.default_timezone
        )
        dialog = settings_dialog(
            workspace,
            origin=FormOrigin(channel_id=invoke.channel_id, user_id=invoke.user_id),
            # Teams says which zone the person's device is in; the form then offers it first.
            own_zone=invoke.activity.local_timezone or "",
        )
    return InvokeResponse(200, render_dialog(dialog, invoke.shown_here()))


async def on_submit(invoke: Invoke, context: AppContext) -> InvokeResponse:
    refused = await refusal_unless_admin(invoke, context, refusal=refusal_for(TEAMS))
    if refused is not None:
        return refused
    form = submitted(invoke.data)
    origin = read_origin(form.context, user_id=invoke.user_id, channel_id=invoke.channel_id)
    if origin is None:
        logger.warning("refused a settings form that %s did not open here", invoke.user_id)
        return dialog_message(NOT_YOUR_FORM)
    try:
        settings = read_settings(form.values)
    except InvalidSettings as invalid:
        async with session_scope(context.sessions) as session:
            workspace = await get_or_create_workspace(
                session, workspace_id=invoke.workspace_id, default_timezone=context.settings.default_timezone
            )
            dialog = settings_dialog(workspace, origin=origin, own_zone=invoke.activity.local_timezone or "")
        # Teams closes a dialog when it is sent: the answer is the same form again, as filled in, with what to fix.
        return InvokeResponse(
            200, render_dialog(refilled(dialog, form.values), invoke.shown_here(), errors=invalid.errors)
        )
    async with session_scope(context.sessions) as session:
        workspace = await save_settings(
            session,
            workspace_id=invoke.workspace_id,
            settings=settings,
            saved_by=invoke.user_id,
            change_id=f"teams:{invoke.activity.id or ''}",
            default_timezone=context.settings.default_timezone,
        )
        saved = saved_message(workspace)
    context.delivery.wake()
    return dialog_message(saved.text)


def handlers() -> dict[str, InvokeHandler]:
    return {OPEN_SETTINGS_BUTTON: open_form, SETTINGS_DIALOG: on_submit}
