"""The round-table's buttons on Teams: RSVPs and Cancel (Universal Actions, answered in place) and the notes dialog
(task/fetch opens it, task/submit saves it). Same domain calls and checks as Slack's handlers/slack/roundtable.py.

An RSVP is answered with a short confirmation; every reminder card of the meeting is then refreshed through the
outbox with the new counts, as on Slack, so names are shown the way Teams shows them in every other post.
"""

from __future__ import annotations

from bot.context import AppContext
from bot.teams.cards import render_dialog, submitted
from habits.form_origin import NOT_YOUR_FORM, read_origin
from habits.ids import parse_id
from habits.roundtables.form import NOTES, NOTES_FORM
from habits.roundtables.meetings import answer_rsvp, cancel, channel_roundtable, notes_dialog, save_notes
from habits.roundtables.messages import CANCEL_BUTTON, COMING_BUTTON, NOT_COMING_BUTTON, NOTES_BUTTON
from habits.steering import not_allowed_to_steer
from handlers.slack.roundtable import CANCELLED, NOTES_ERRORS, NOTHING_TO_CANCEL, RSVP_REFUSALS, STEER_WHAT
from handlers.steering import may_steer_here
from handlers.teams.invokes import Invoke, InvokeHandler, InvokeResponse, dialog_message, message
from models.db import session_scope

COMING = "Thanks: you're down as coming."
NOT_COMING = "Thanks: you're down as not able to make it."
NOTES_SAVED = "Thanks: the notes are posted in the channel."
NOTES_UPDATED = "Thanks: the notes in the channel are updated."


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
    async with session_scope(context.sessions) as session:
        roundtable = await channel_roundtable(
            session, workspace_id=invoke.workspace_id, channel_id=invoke.channel_id
        )
        creator = roundtable.set_up_by if roundtable is not None else None
    if not await may_steer_here(
        context, workspace_id=invoke.workspace_id, user_id=invoke.user_id, creator=creator
    ):
        return message(not_allowed_to_steer(STEER_WHAT).text)
    async with session_scope(context.sessions) as session:
        cancelled = await cancel(
            session, workspace_id=invoke.workspace_id, channel_id=invoke.channel_id, now=context.clock()
        )
    if cancelled:
        context.schedule_changes.set()
    return message(CANCELLED if cancelled else NOTHING_TO_CANCEL)


async def open_notes(invoke: Invoke, context: AppContext) -> InvokeResponse:
    meeting_id = parse_id(invoke.data.get("value"))
    dialog = None
    if meeting_id is not None:
        async with session_scope(context.sessions) as session:
            dialog = await notes_dialog(
                session,
                workspace_id=invoke.workspace_id,
                channel_id=invoke.channel_id,
                meeting_id=meeting_id,
                opened_by=invoke.user_id,
            )
    if dialog is None:
        return dialog_message(NOTES_ERRORS["not_found"])
    return InvokeResponse(200, render_dialog(dialog))


async def on_notes(invoke: Invoke, context: AppContext) -> InvokeResponse:
    form = submitted(invoke.data)
    origin = read_origin(form.context, user_id=invoke.user_id)
    if origin is None or origin.subject_id is None or origin.channel_id != invoke.channel_id:
        return dialog_message(NOT_YOUR_FORM)
    text = form.values.get(NOTES)
    async with session_scope(context.sessions) as session:
        outcome = await save_notes(
            session,
            workspace_id=invoke.workspace_id,
            channel_id=origin.channel_id,
            meeting_id=origin.subject_id,
            user_id=invoke.user_id,
            text=text if isinstance(text, str) else "",
            now=context.clock(),
        )
    if outcome in NOTES_ERRORS:
        return dialog_message(NOTES_ERRORS[outcome])
    context.delivery.wake()
    return dialog_message(NOTES_SAVED if outcome == "posted" else NOTES_UPDATED)


def handlers() -> dict[str, InvokeHandler]:
    return {
        COMING_BUTTON: on_coming,
        NOT_COMING_BUTTON: on_not_coming,
        CANCEL_BUTTON: on_cancel,
        NOTES_BUTTON: open_notes,
        NOTES_FORM: on_notes,
    }
