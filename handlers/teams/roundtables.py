"""The round-table's buttons on Teams: RSVPs and Cancel (Universal Actions, answered in place), and the set-up and
notes dialogs (task/fetch opens one, task/submit saves it, or shows it again with what to fix). Same domain calls and
checks as Slack's handlers/slack/roundtable.py.

An RSVP is answered with a short confirmation; every reminder card of the meeting is then refreshed through the
outbox with the new counts, as on Slack, so names are shown the way Teams shows them in every other post.
"""

from __future__ import annotations

import logging

from sqlalchemy.ext.asyncio import AsyncSession

from bot.context import AppContext
from bot.teams.cards import render_dialog, submitted
from habits.form_origin import NOT_YOUR_FORM, read_origin
from habits.form_values import refilled
from habits.ids import parse_id
from habits.messages import Dialog, PeoplePicker
from habits.roundtables.follow_up import DONE_BUTTON, mark_done
from habits.roundtables.form import NOTES, NOTES_FORM, SETUP_FORM, FormErrors, read_setup_form
from habits.roundtables.meetings import answer_rsvp, cancel, channel_roundtable, notes_dialog, save_notes
from habits.roundtables.messages import (
    CANCEL_BUTTON,
    CHANGE_BUTTON,
    COMING_BUTTON,
    NOT_COMING_BUTTON,
    NOTES_BUTTON,
)
from habits.steering import not_allowed_to_steer
from handlers.slack.roundtable import (
    CANCELLED,
    DONE_REFUSALS,
    NOTES_ERRORS,
    NOTHING_TO_CANCEL,
    RSVP_REFUSALS,
    STEER_WHAT,
    announce_setup,
    save_setup,
    setup_dialog,
)
from handlers.steering import may_steer_here
from handlers.teams.dialogs import dialog_for_click, form_about_subject
from handlers.teams.invokes import Invoke, InvokeHandler, InvokeResponse, dialog_message, message
from handlers.teams.names import display_names
from models.db import session_scope

logger = logging.getLogger(__name__)

COMING = "Thanks: you're down as coming."
NOT_COMING = "Thanks: you're down as not able to make it."
NOTES_SAVED = "Thanks: the notes are posted in the channel."
NOTES_UPDATED = "Thanks: the notes in the channel are updated."
SET_UP = "Saved: the round-table is announced in the channel."
MARKED_DONE = "Thanks: marked done."


async def _rsvp(invoke: Invoke, context: AppContext, *, attending: bool) -> InvokeResponse:
    meeting_id = parse_id(invoke.data.get("value"))
    if meeting_id is None:
        return message(RSVP_REFUSALS["not_found"])
    async with session_scope(context.sessions) as session:
        outcome = await answer_rsvp(
            session,
            workspace_id=invoke.workspace_id,
            channel_id=invoke.channel_id,
            meeting_id=meeting_id,
            user_id=invoke.user_id,
            attending=attending,
            now=context.clock(),
        )
    if outcome != "recorded":
        return message(RSVP_REFUSALS[outcome])
    context.delivery.wake()
    return message(COMING if attending else NOT_COMING)


async def on_coming(invoke: Invoke, context: AppContext) -> InvokeResponse:
    return await _rsvp(invoke, context, attending=True)


async def on_not_coming(invoke: Invoke, context: AppContext) -> InvokeResponse:
    return await _rsvp(invoke, context, attending=False)


async def on_cancel(invoke: Invoke, context: AppContext) -> InvokeResponse:
    """Cancels the round-table of the conversation the card is in (whichever round-table the button named)."""
    if not await _may_steer(invoke, context):
        return message(not_allowed_to_steer(STEER_WHAT).text)
    async with session_scope(context.sessions) as session:
        cancelled = await cancel(
            session, workspace_id=invoke.workspace_id, channel_id=invoke.channel_id, now=context.clock()
        )
    if cancelled:
        context.schedule_changes.set()
    return message(CANCELLED if cancelled else NOTHING_TO_CANCEL)


async def open_notes(invoke: Invoke, context: AppContext) -> InvokeResponse:
    async def meeting_notes(session: AsyncSession, meeting_id: int) -> Dialog | None:
        return await notes_dialog(
            session,
            workspace_id=invoke.workspace_id,
            channel_id=invoke.channel_id,
            meeting_id=meeting_id,
            opened_by=invoke.user_id,
        )

    dialog = await dialog_for_click(invoke, context, meeting_notes)
    if dialog is None:
        return dialog_message(NOTES_ERRORS["not_found"])
    return InvokeResponse(200, render_dialog(dialog, invoke.shown_here()))


async def on_notes(invoke: Invoke, context: AppContext) -> InvokeResponse:
    form = form_about_subject(invoke)
    if form is None:
        return dialog_message(NOT_YOUR_FORM)
    text = form.values.get(NOTES)
    try:
        async with session_scope(context.sessions) as session:
            outcome = await save_notes(
                session,
                workspace_id=invoke.workspace_id,
                channel_id=form.channel_id,
                meeting_id=form.subject_id,
                user_id=invoke.user_id,
                text=text if isinstance(text, str) else "",
                now=context.clock(),
                values=form.values,
            )
    except FormErrors as problems:
        async with session_scope(context.sessions) as session:
            dialog = await notes_dialog(
                session,
                workspace_id=invoke.workspace_id,
                channel_id=form.channel_id,
                meeting_id=form.subject_id,
                opened_by=invoke.user_id,
            )
        if dialog is None:
            return dialog_message(NOTES_ERRORS["not_found"])
        # As with the set-up form: the same dialog again, as filled in, each mistake under its field.
        dialog = refilled(dialog, form.values)
        return InvokeResponse(
            200,
            render_dialog(
                dialog, invoke.shown_here(await _names(invoke, context, dialog)), errors=problems.errors
            ),
        )
    if outcome in NOTES_ERRORS:
        return dialog_message(NOTES_ERRORS[outcome])
    context.delivery.wake()
    return dialog_message(NOTES_SAVED if outcome == "posted" else NOTES_UPDATED)


async def _setup_form(invoke: Invoke, context: AppContext) -> Dialog:
    return await setup_dialog(
        context,
        workspace_id=invoke.workspace_id,
        channel_id=invoke.channel_id,
        user_id=invoke.user_id,
        # Teams says which zone the person's device is in; the form then offers it first.
        own_zone=invoke.activity.local_timezone or "",
        with_groups=False,
    )


async def _names(invoke: Invoke, context: AppContext, dialog: Dialog) -> dict[str, str]:
    """The Teams names of the people the form shows as invited (else the form would show their ids)."""
    people = {person for field in dialog.inputs if isinstance(field, PeoplePicker) for person in field.initial}
    return await display_names(context, invoke.workspace_id, sorted(people)) if people else {}


async def _may_steer(invoke: Invoke, context: AppContext) -> bool:
    """Whether this person may set up, change or cancel the conversation's round-table, under the workspace's
    rule."""
    async with session_scope(context.sessions) as session:
        roundtable = await channel_roundtable(
            session, workspace_id=invoke.workspace_id, channel_id=invoke.channel_id
        )
        creator = roundtable.set_up_by if roundtable is not None else None
    return await may_steer_here(context, workspace_id=invoke.workspace_id, user_id=invoke.user_id, creator=creator)


async def open_setup(invoke: Invoke, context: AppContext) -> InvokeResponse:
    """The set-up form for the conversation the button is in: the round-table as it stands, or a new one."""
    if not await _may_steer(invoke, context):
        return dialog_message(not_allowed_to_steer(STEER_WHAT).text)
    dialog = await _setup_form(invoke, context)
    return InvokeResponse(200, render_dialog(dialog, invoke.shown_here(await _names(invoke, context, dialog))))


async def on_setup(invoke: Invoke, context: AppContext) -> InvokeResponse:
    form = submitted(invoke.data)
    origin = read_origin(form.context, user_id=invoke.user_id, channel_id=invoke.channel_id)
    if origin is None or origin.subject_id is not None:
        return dialog_message(NOT_YOUR_FORM)
    # Checked again on sending: the rule or the round-table's creator may have changed since the form opened.
    if not await _may_steer(invoke, context):
        return dialog_message(not_allowed_to_steer(STEER_WHAT).text)
    try:
        # Teams has no user groups to invite: people only.
        plan = read_setup_form(form.values, known_groups=[])
    except FormErrors as problems:
        # Teams closes a dialog when it is sent: the answer is the same form again, as filled in, with what to fix.
        dialog = refilled(await _setup_form(invoke, context), form.values)
        return InvokeResponse(
            200,
            render_dialog(
                dialog, invoke.shown_here(await _names(invoke, context, dialog)), errors=problems.errors
            ),
        )
    saved = await save_setup(
        context, workspace_id=invoke.workspace_id, channel_id=origin.channel_id, user_id=invoke.user_id, plan=plan
    )
    await announce_setup(context, saved, user_id=invoke.user_id)
    return dialog_message(SET_UP)


async def on_done(invoke: Invoke, context: AppContext) -> InvokeResponse:
    item_id = parse_id(invoke.data.get("value"))
    outcome = "not_found"
    if item_id is not None:
        async with session_scope(context.sessions) as session:
            outcome = await mark_done(
                session,
                workspace_id=invoke.workspace_id,
                item_id=item_id,
                user_id=invoke.user_id,
                now=context.clock(),
            )
    if outcome != "done":
        return message(DONE_REFUSALS[outcome])
    context.delivery.wake()
    return message(MARKED_DONE)


def handlers() -> dict[str, InvokeHandler]:
    return {
        CHANGE_BUTTON: open_setup,
        SETUP_FORM: on_setup,
        COMING_BUTTON: on_coming,
        NOT_COMING_BUTTON: on_not_coming,
        CANCEL_BUTTON: on_cancel,
        NOTES_BUTTON: open_notes,
        NOTES_FORM: on_notes,
        DONE_BUTTON: on_done,
    }
