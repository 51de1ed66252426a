"""The connect form on Slack (`connect <source>` opens it, handlers/commands/connections.py): sending it saves the
connection, and the answer (the webhook address, and the secret whoelse generated, shown this once) replaces the
form itself, so only the admin who sent it sees it and it is never stored anywhere else.
"""

from __future__ import annotations

import logging
import re
from typing import Any

from slack_bolt.async_app import AsyncAck, AsyncApp

from bot.context import AppContext
from bot.gateways import SLACK
from bot.slack.blocks import dialog_values, render_answer_view
from habits.connections import CONNECT_DIALOG, InvalidAnswers, read_answers, source_of_dialog
from habits.form_origin import NOT_YOUR_FORM, read_origin
from habits.messages import Message
from handlers.commands import CommandRouter
from handlers.commands.admin_rights import refusal_unless_person_is_admin
from handlers.commands.connections import CANNOT_CONNECT_HERE, refusal_for, save_answers, setup_problem
from handlers.webhooks.sources import SOURCES

logger = logging.getLogger(__name__)


def register(bolt: AsyncApp, context: AppContext, router: CommandRouter) -> None:
    @bolt.view(re.compile(f"^{re.escape(CONNECT_DIALOG)}:"))
    async def on_connect_submitted(ack: AsyncAck, body: dict[str, Any], view: dict[str, Any]) -> None:
        await ack(**await _connect_answer(context, body, view))


async def _connect_answer(context: AppContext, body: dict[str, Any], view: dict[str, Any]) -> dict[str, Any]:
    """What Slack is told to show: errors next to a field, or the form replaced by the address and the steps."""
    user_id = str(body["user"]["id"])
    workspace_id = str((body.get("team") or {}).get("id") or body["user"]["team_id"])
    webhook = SOURCES.get(source_of_dialog(view.get("callback_id")) or "")
    first_field = webhook.guide.asks[0].key if webhook is not None and webhook.guide.asks else None

    def refused(reason: str) -> dict[str, Any]:
        # A form with no field to show it next to gets its answer in place of the form.
        if first_field is None:
            return {"response_action": "update", "view": render_answer_view("whoelse", Message(text=reason))}
        return {"response_action": "errors", "errors": {first_field: reason}}

    if webhook is None or read_origin(view.get("private_metadata"), user_id=user_id) is None:
        logger.warning("refused a connect form that %s did not open", user_id, extra={"workspace": workspace_id})
        return refused(NOT_YOUR_FORM)
    # Rights may have changed since the form opened, and anyone could send this submission.
    not_admin = await refusal_unless_person_is_admin(
        context, workspace_id=workspace_id, user_id=user_id, platform=SLACK, refusal=refusal_for(SLACK)
    )
    if not_admin is not None:
        logger.warning("connect form from %s, who is not an admin, was refused", user_id)
        return refused(not_admin.text)
    problem = setup_problem(context)
    if problem is not None:
        return refused(CANNOT_CONNECT_HERE.format(problem=problem))
    try:
        answers = read_answers(webhook.guide, dialog_values(view.get("state") or {}))
    except InvalidAnswers as invalid:
        return {"response_action": "errors", "errors": invalid.errors}
    answer = await save_answers(
        context, workspace_id=workspace_id, user_id=user_id, platform=SLACK, webhook=webhook, answers=answers
    )
    return {"response_action": "update", "view": render_answer_view("Connected", answer)}
