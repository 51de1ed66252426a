"""The connect form on Teams: the button `connect <source>` answers with opens it (task/fetch), and sending it
(task/submit) saves the connection. The answer, with the webhook address, the steps and the secret whoelse
generated, is shown in the dialog itself: never posted to the channel, never queued in the outbox. Admin rights are
checked at both steps; a form with mistakes comes back with what was typed and what to fix.
"""

from __future__ import annotations

import logging

from bot.context import AppContext
from bot.gateways import TEAMS
from bot.teams.cards import render_answer_dialog, render_dialog, submitted
from habits.connections import InvalidAnswers, dialog_id, read_answers, source_of_dialog
from habits.form_origin import NOT_YOUR_FORM, FormOrigin, read_origin
from habits.form_values import refilled
from handlers.commands.connections import (
    CANNOT_CONNECT_HERE,
    OPEN_CONNECT_BUTTON,
    connect_form,
    refusal_for,
    save_answers,
    setup_problem,
)
from handlers.teams.admin_rights import refusal_unless_admin
from handlers.teams.invokes import Invoke, InvokeHandler, InvokeResponse, dialog_message
from handlers.webhooks.sources import SOURCES

logger = logging.getLogger(__name__)

UNKNOWN_SOURCE = "whoelse does not know that source. Type connect with one of: {known}."


async def _refusal(invoke: Invoke, context: AppContext) -> InvokeResponse | None:
    refused = await refusal_unless_admin(invoke, context, refusal=refusal_for(TEAMS))
    if refused is None:
        problem = setup_problem(context)
        return None if problem is None else dialog_message(CANNOT_CONNECT_HERE.format(problem=problem))
    return refused


def _unknown_source() -> InvokeResponse:
    return dialog_message(UNKNOWN_SOURCE.format(known=", ".join(sorted(SOURCES))))


async def open_form(invoke: Invoke, context: AppContext) -> InvokeResponse:
    webhook = SOURCES.get(str(invoke.data.get("value") or ""))
    if webhook is None:
        return _unknown_source()
    refused = await _refusal(invoke, context)
    if refused is not None:
        return refused
    dialog = await connect_form(
        context,
        workspace_id=invoke.workspace_id,
        webhook=webhook,
        origin=FormOrigin(channel_id=invoke.channel_id, user_id=invoke.user_id),
    )
    return InvokeResponse(200, render_dialog(dialog, invoke.shown_here()))


async def on_submit(invoke: Invoke, context: AppContext) -> InvokeResponse:
    form = submitted(invoke.data)
    webhook = SOURCES.get(source_of_dialog(form.callback_id) or "")
    if webhook is None:
        return _unknown_source()
    # Rights may have changed since the form opened, and anyone could send this submission.
    refused = await _refusal(invoke, context)
    if refused is not None:
        return refused
    origin = read_origin(form.context, user_id=invoke.user_id, channel_id=invoke.channel_id)
    if origin is None:
        logger.warning("refused a connect form that %s did not open here", invoke.user_id)
        return dialog_message(NOT_YOUR_FORM)
    try:
        answers = read_answers(webhook.guide, form.values)
    except InvalidAnswers as invalid:
        dialog = await connect_form(context, workspace_id=invoke.workspace_id, webhook=webhook, origin=origin)
        # Teams closes a dialog when it is sent: the answer is the same form again, as filled in, with what to fix.
        return InvokeResponse(
            200, render_dialog(refilled(dialog, form.values), invoke.shown_here(), errors=invalid.errors)
        )
    answer = await save_answers(
        context,
        workspace_id=invoke.workspace_id,
        user_id=invoke.user_id,
        platform=TEAMS,
        webhook=webhook,
        answers=answers,
    )
    return InvokeResponse(200, render_answer_dialog("Connected", answer, invoke.shown_here()))


def handlers() -> dict[str, InvokeHandler]:
    # A sent form is routed by its callback id, which names the source it connects.
    submits: dict[str, InvokeHandler] = {dialog_id(source): on_submit for source in SOURCES}
    return {OPEN_CONNECT_BUTTON: open_form, **submits}
