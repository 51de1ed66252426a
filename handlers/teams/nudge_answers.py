"""Answers to a nudge's card on Teams: the people search's *Loop in*, "Nobody else", and the help dialog.

The same domain actions as Slack's handlers/slack/nudge_answers.py record each answer; what differs is the reply.
Teams wants the answer to a card action or dialog in the HTTP response, and that answer is seen only by the person
who clicked, so it is also the private acknowledgement: the nudge's card refreshed with a note for them, or a short
message. What the channel should see (who was looped in, help offered or asked for) goes to the nudge's thread
through the outbox, exactly as on Slack.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterable, Mapping
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from bot.context import AppContext
from bot.teams.cards import render_dialog, render_message, submitted
from bot.teams.gateway import mentioned_people
from habits.form_origin import NOT_YOUR_FORM, read_origin
from habits.messages import Dialog, Message, Note, shown
from habits.nudge_answers import (
    NOBODY_AGAIN,
    NOBODY_NOTED,
    NOT_HERE,
    and_list,
    help_dialog,
    help_errors,
    loop_in,
    nobody_else,
    nudge_in_channel,
    record_help,
)
from habits.nudge_message import HELP_OPEN, HELP_SUBMIT, LOOP_IN_NOBODY, LOOP_IN_PICK, nudge_id_from
from handlers.teams.invokes import (
    Invoke,
    InvokeHandler,
    InvokeResponse,
    card,
    dialog_message,
    message,
)
from handlers.teams.names import display_names
from models.db import session_scope
from models.nudges import Nudge
from models.outbox import OutboxMessage

logger = logging.getLogger(__name__)

# What Teams' people search sends back: Entra object ids (GUIDs). Anything else did not come from the search and
# is never recorded as a person.
_PERSON_ID = re.compile(r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}")
PICK_SOMEONE = "Pick the colleagues to loop in first, then press Loop in."
ALREADY_LOOPED = "Everyone you picked is already looped in."


def handlers() -> dict[str, InvokeHandler]:
    """The nudge card's actions and dialog, by verb."""
    return {
        LOOP_IN_PICK: on_pick,
        LOOP_IN_NOBODY: on_nobody,
        HELP_OPEN: on_help_open,
        HELP_SUBMIT: on_help_submit,
    }


def picked_people(data: Mapping[str, Any]) -> list[str]:
    """The people picked in the card's search: Teams sends a multi-select's values as one comma-separated string."""
    raw = data.get(LOOP_IN_PICK)
    values = raw.split(",") if isinstance(raw, str) else []
    return [value.strip() for value in values if _PERSON_ID.fullmatch(value.strip())]


async def _clicked_nudge(session: AsyncSession, invoke: Invoke) -> Nudge | None:
    """The nudge this click answers, only if it is one of this channel's, in this tenant."""
    nudge_id = nudge_id_from(invoke.data.get("value"))
    nudge = (
        None
        if nudge_id is None or not invoke.channel_id
        else await nudge_in_channel(
            session, workspace_id=invoke.workspace_id, channel_id=invoke.channel_id, nudge_id=nudge_id
        )
    )
    if nudge is None:
        logger.warning(
            "refused an answer to nudge %s: it is not in the channel clicked from",
            nudge_id,
            extra={"workspace": invoke.workspace_id, "channel": invoke.channel_id, "user": invoke.user_id},
        )
    return nudge


async def on_pick(invoke: Invoke, context: AppContext) -> InvokeResponse:
    picked = picked_people(invoke.data)
    async with session_scope(context.sessions) as session:
        nudge = await _clicked_nudge(session, invoke)
        if nudge is None:
            return message(NOT_HERE)
        if not picked:
            return message(PICK_SOMEONE)
        result = await loop_in(session, nudge=nudge, by_user=invoke.user_id, picked=picked, now=context.clock())
        posted = await _posted(session, nudge)
    context.delivery.wake()
    if result.newly_looped:
        names = await display_names(context, invoke.workspace_id, result.newly_looped)
        note = f"You looped in {and_list([shown(names.get(user, user)) for user in result.newly_looped])}."
    else:
        note = ALREADY_LOOPED
    return await _refreshed(context, invoke, posted, note)


async def on_nobody(invoke: Invoke, context: AppContext) -> InvokeResponse:
    async with session_scope(context.sessions) as session:
        nudge = await _clicked_nudge(session, invoke)
        if nudge is None:
            return message(NOT_HERE)
        # The refreshed card is the private acknowledgement: no second one in the person's chat with whoelse.
        first = await nobody_else(
            session, nudge=nudge, by_user=invoke.user_id, now=context.clock(), tell_privately_too=False
        )
        posted = await _posted(session, nudge)
    return await _refreshed(context, invoke, posted, NOBODY_NOTED if first else NOBODY_AGAIN)


async def on_help_open(invoke: Invoke, context: AppContext) -> InvokeResponse:
    async with session_scope(context.sessions) as session:
        nudge = await _clicked_nudge(session, invoke)
    if nudge is None:
        return dialog_message(NOT_HERE)
    return InvokeResponse(200, render_dialog(help_dialog(nudge, opened_by=invoke.user_id), invoke.shown_here()))


async def on_help_submit(invoke: Invoke, context: AppContext) -> InvokeResponse:
    form = submitted(invoke.data)
    origin = read_origin(form.context, user_id=invoke.user_id)
    if origin is None or origin.subject_id is None:
        logger.warning(
            "refused a help form that %s did not open here",
            invoke.user_id,
            extra={"workspace": invoke.workspace_id},
        )
        return dialog_message(NOT_YOUR_FORM)
    async with session_scope(context.sessions) as session:
        # Teams says which conversation the dialog was sent from: it must be the one the form was opened in.
        nudge = (
            await nudge_in_channel(
                session, workspace_id=invoke.workspace_id, channel_id=origin.channel_id, nudge_id=origin.subject_id
            )
            if origin.channel_id == invoke.channel_id
            else None
        )
        if nudge is None:
            logger.warning(
                "refused help for nudge %s: it is not in the channel the form was opened from",
                origin.subject_id,
                extra={"workspace": invoke.workspace_id, "channel": invoke.channel_id},
            )
            return dialog_message(NOT_HERE)
        values = form.values
        errors = help_errors(values)
        if errors:
            return InvokeResponse(
                200,
                render_dialog(_with_errors(nudge, invoke.user_id, values, errors.values()), invoke.shown_here()),
            )
        kind = str(values["kind"])
        await record_help(
            session,
            nudge=nudge,
            user_id=invoke.user_id,
            kind=kind,
            category=str(values["category"]),
            text=str(values["text"]),
            now=context.clock(),
        )
    context.delivery.wake()
    return dialog_message(
        f"Thanks: your {'offer' if kind == 'offer' else 'request'} is posted in the nudge's thread."
    )


def _with_errors(
    nudge: Nudge, opened_by: str, values: Mapping[str, str | list[str] | None], errors: Iterable[str]
) -> Dialog:
    """The help dialog again, keeping what was filled in, with what to fix above the fields (a Teams dialog has no
    per-field errors from the bot)."""
    dialog = help_dialog(nudge, opened_by=opened_by)
    inputs = []
    for field in dialog.inputs:
        value = values.get(field.input_id)
        inputs.append(field.model_copy(update={"initial": value}) if isinstance(value, str) else field)
    problems = "\n\n".join(f":warning: {error}" for error in errors)
    return dialog.model_copy(update={"intro": f"{dialog.intro}\n\n{problems}", "inputs": inputs})


async def _posted(session: AsyncSession, nudge: Nudge) -> Message | None:
    """The nudge as it was posted, to refresh its card with."""
    post = await session.get(OutboxMessage, nudge.outbox_id) if nudge.outbox_id else None
    return post.neutral_message() if post is not None else None


async def _refreshed(context: AppContext, invoke: Invoke, posted: Message | None, note: str) -> InvokeResponse:
    """The nudge's card again, with a note for the person who clicked (Teams shows it to them in place)."""
    if posted is None:
        return message(note)
    refreshed = posted.model_copy(update={"parts": [*posted.parts, Note(text=note)]})
    users = sorted(mentioned_people(refreshed))
    names = await display_names(context, invoke.workspace_id, users)
    return card(render_message(refreshed, invoke.shown_here(names)))
