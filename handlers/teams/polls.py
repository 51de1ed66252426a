"""The elephant poll's buttons and forms on Teams: "Name an elephant" and "Vote" open a dialog (task/fetch), and
the naming form and the ballot are sent back in one (task/submit). Same domain calls, same storage and same checks
as Slack's handlers/slack/elephant.py; answers are confirmed as the dialog closes, never with a message in the
channel, since a queued "thanks" would record who answered when.
"""

from __future__ import annotations

import logging

from sqlalchemy.ext.asyncio import AsyncSession

from bot.context import AppContext
from bot.teams.cards import render_dialog, submitted
from habits.elephants.form_answers import record_approval, record_ballot, record_naming
from habits.elephants.forms import FormWanted, form_for
from habits.elephants.messages import (
    APPROVAL_FORM,
    APPROVED_THANKS,
    BALLOT_FORM,
    CLOSE_BUTTON,
    INFO_FORM,
    NAME_BUTTON,
    NAMED_THANKS,
    SUBMIT_FORM,
    VOTE_BUTTON,
    VOTED_THANKS,
    ballot_of,
)
from habits.elephants.polls import NOT_HERE
from habits.form_origin import NOT_YOUR_FORM
from habits.ids import parse_id
from habits.messages import Dialog
from handlers.slack.elephant import SUBMIT_ERRORS, VOTE_ERRORS, close_poll_for
from handlers.teams.dialogs import dialog_for_click, form_about_subject
from handlers.teams.invokes import Invoke, InvokeHandler, InvokeResponse, dialog_message, message

logger = logging.getLogger(__name__)


async def open_naming_form(invoke: Invoke, context: AppContext) -> InvokeResponse:
    return await open_form(invoke, context, wanted="name")


async def open_ballot(invoke: Invoke, context: AppContext) -> InvokeResponse:
    return await open_form(invoke, context, wanted="vote")


async def open_form(invoke: Invoke, context: AppContext, *, wanted: FormWanted) -> InvokeResponse:
    """The naming form or the ballot for the poll on the card clicked, if that poll is this channel's."""

    async def poll_form(session: AsyncSession, poll_id: int) -> Dialog | None:
        return await form_for(
            session,
            workspace_id=invoke.workspace_id,
            channel_id=invoke.channel_id,
            poll_id=poll_id,
            user_id=invoke.user_id,
            now=context.clock(),
            wanted=wanted,
        )

    dialog = await dialog_for_click(invoke, context, poll_form)
    if dialog is None:
        logger.warning(
            "refused a click on elephant poll %s: it is not in the channel clicked from",
            parse_id(invoke.data.get("value")),
            extra={"workspace": invoke.workspace_id, "channel": invoke.channel_id, "user": invoke.user_id},
        )
        return dialog_message(NOT_HERE)
    if dialog.callback_id == INFO_FORM:
        # A form that only tells something is a message on Teams: no "OK" to press.
        return dialog_message(dialog.intro)
    return InvokeResponse(200, render_dialog(dialog, invoke.shown_here()))


async def on_naming(invoke: Invoke, context: AppContext) -> InvokeResponse:
    form = form_about_subject(invoke)
    if form is None:
        return dialog_message(NOT_YOUR_FORM)
    outcome = await record_naming(context.sessions, form, now=context.clock())
    return dialog_message(NAMED_THANKS if outcome == "recorded" else SUBMIT_ERRORS[outcome])


async def on_ballot(invoke: Invoke, context: AppContext) -> InvokeResponse:
    form = form_about_subject(invoke)
    if form is None:
        return dialog_message(NOT_YOUR_FORM)
    outcome = await record_ballot(context.sessions, form, now=context.clock())
    return dialog_message(VOTED_THANKS if outcome == "recorded" else VOTE_ERRORS[outcome])


async def on_approval(invoke: Invoke, context: AppContext) -> InvokeResponse:
    """An overlapping poll's ballot: every ticked elephant gets one vote."""
    form = form_about_subject(invoke)
    shown = ballot_of(submitted(invoke.data).context)
    if form is None or shown is None:
        return dialog_message(NOT_YOUR_FORM)
    outcome = await record_approval(context.sessions, form, shown=shown, now=context.clock())
    return dialog_message(APPROVED_THANKS if outcome == "recorded" else VOTE_ERRORS[outcome])


async def on_close(invoke: Invoke, context: AppContext) -> InvokeResponse:
    """ "Close now" from the private answer its starter got: checked again here, as on Slack."""
    poll_id = parse_id(invoke.data.get("value"))
    if poll_id is None:
        return message(NOT_HERE)
    answer = await close_poll_for(
        context,
        workspace_id=invoke.workspace_id,
        channel_id=invoke.channel_id,
        user_id=invoke.user_id,
        poll_id=poll_id,
    )
    return message(answer.text)


def handlers() -> dict[str, InvokeHandler]:
    return {
        NAME_BUTTON: open_naming_form,
        VOTE_BUTTON: open_ballot,
        SUBMIT_FORM: on_naming,
        BALLOT_FORM: on_ballot,
        APPROVAL_FORM: on_approval,
        CLOSE_BUTTON: on_close,
    }
