"""The settings form on Teams: the "Change settings" button opens it (task/fetch) and sending it saves it
(task/submit). Admin rights are checked at both steps, as Slack checks them again on submission; a form with
mistakes comes back with what was typed and what to fix, and a saved one closes with what is now in force.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping

from bot.context import AppContext
from bot.gateways import TEAMS
from bot.teams.cards import render_dialog, submitted
from habits.form_origin import NOT_YOUR_FORM, FormOrigin, read_origin
from habits.messages import Dialog, Input, MultiChoiceInput, PeopleInput
from habits.workspace_settings import (
    SETTINGS_DIALOG,
    InvalidSettings,
    read_settings,
    save_settings,
    saved_message,
    settings_dialog,
)
from handlers.commands.admin_rights import refusal_unless_person_is_admin
from handlers.commands.settings import OPEN_SETTINGS_BUTTON, refusal_for
from handlers.teams.invokes import Invoke, InvokeHandler, InvokeResponse, dialog_message
from models.db import session_scope
from models.workspaces import get_or_create_workspace

logger = logging.getLogger(__name__)

FIX_THESE = "Please fix what is marked below, then save again."


async def _refusal(invoke: Invoke, context: AppContext) -> InvokeResponse | None:
    refused = await refusal_unless_person_is_admin(
        context,
        workspace_id=invoke.workspace_id,
        user_id=invoke.user_id,
        platform=TEAMS,
        refusal=refusal_for(TEAMS),
    )
    return None if refused is None else dialog_message(refused.text)


async def open_form(invoke: Invoke, context: AppContext) -> InvokeResponse:
    refused = await _refusal(invoke, context)
    if refused is not None:
        return refused
    async with session_scope(context.sessions) as session:
        workspace = await get_or_create_workspace(
            session, workspace_id=invoke.workspace_id, default_timezone=context.settings.default_timezone
        )
        dialog = settings_dialog(
            workspace, origin=FormOrigin(channel_id=invoke.channel_id, user_id=invoke.user_id)
        )
    return InvokeResponse(200, render_dialog(dialog))


async def on_submit(invoke: Invoke, context: AppContext) -> InvokeResponse:
    refused = await _refusal(invoke, context)
    if refused is not None:
        return refused
    form = submitted(invoke.data)
    origin = read_origin(form.context, user_id=invoke.user_id)
    if origin is None or origin.channel_id != invoke.channel_id:
        logger.warning("refused a settings form that %s did not open here", invoke.user_id)
        return dialog_message(NOT_YOUR_FORM)
    try:
        settings = read_settings(form.values)
    except InvalidSettings as invalid:
        async with session_scope(context.sessions) as session:
            workspace = await get_or_create_workspace(
                session, workspace_id=invoke.workspace_id, default_timezone=context.settings.default_timezone
            )
            dialog = settings_dialog(workspace, origin=origin)
        return InvokeResponse(200, render_dialog(with_mistakes(dialog, form.values, invalid.errors)))
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


def with_mistakes(
    dialog: Dialog, values: Mapping[str, str | list[str] | None], errors: Mapping[str, str]
) -> Dialog:
    """The form again, holding what was typed, with each mistake named above the form (an Adaptive Card cannot show
    a message of whoelse's own next to an input)."""
    labels = {field.input_id: field.label for field in dialog.inputs}
    mistakes = [f"• {labels.get(input_id, input_id)}: {error}" for input_id, error in errors.items()]
    inputs: list[Input] = []
    for field in dialog.inputs:
        value = values.get(field.input_id)
        if isinstance(field, MultiChoiceInput | PeopleInput):
            inputs.append(field.model_copy(update={"initial": value if isinstance(value, list) else []}))
        else:
            inputs.append(field.model_copy(update={"initial": value if isinstance(value, str) else ""}))
    intro = "\n".join([FIX_THESE, *mistakes, "", dialog.intro]).strip()
    return dialog.model_copy(update={"intro": intro, "inputs": inputs})


def handlers() -> dict[str, InvokeHandler]:
    return {OPEN_SETTINGS_BUTTON: open_form, SETTINGS_DIALOG: on_submit}
