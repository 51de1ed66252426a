"""`/whoelse roundtable …`, the round-table's buttons and its two forms: Slack payloads in, domain calls out."""

from __future__ import annotations

import logging
import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from slack_bolt.async_app import AsyncAck, AsyncApp

from bot.context import AppContext
from bot.gateway import DeliveryError
from bot.slack.blocks import dialog_values
from habits.command_help import unknown_words
from habits.form_origin import NOT_YOUR_FORM, FormOrigin, read_origin
from habits.ids import parse_id
from habits.messages import Dialog, Message, command
from habits.private_notes import tell_privately
from habits.roundtables.follow_up import DONE_BUTTON, mark_done
from habits.roundtables.form import (
    CADENCE,
    GROUPS,
    NOTES,
    NOTES_FORM,
    SETUP_FORM,
    FormDefaults,
    FormErrors,
    RoundTablePlan,
    read_setup_form,
    setup_form,
)
from habits.roundtables.meetings import (
    announcement_message,
    answer_rsvp,
    cancel,
    channel_roundtable,
    notes_dialog,
    overview_reply,
    save_notes,
    set_up,
)
from habits.roundtables.messages import (
    CANCEL_BUTTON,
    CHANGE_BUTTON,
    COMING_BUTTON,
    NOT_COMING_BUTTON,
    NOTES_BUTTON,
    no_roundtable,
    open_setup_form,
)
from habits.roundtables.teams import missing_teams
from habits.steering import not_allowed_to_steer
from handlers.commands import CommandRequest, CommandRouter
from handlers.slack.clicks import channel_of, team_of
from handlers.slack.dialogs import open_dialog
from handlers.slack.sent_forms import form_about_subject
from handlers.slack.slack_trouble import trouble_asking_slack
from handlers.steering import may_steer_here
from models.db import session_scope
from models.outbox import enqueue
from models.roundtables import RoundTable

logger = logging.getLogger(__name__)

USAGE = (
    "*Cross-functional round-tables* — one per channel:\n"
    f"• {command('roundtable')} — this channel's round-table\n"
    f"• {command('roundtable set')} — set one up or change it\n"
    f"• {command('roundtable cancel')} — cancel it"
)
SET_UP_WORDS = ("set", "setup", "change")
CANCEL_WORDS = ("cancel", "off", "stop")
CANCELLED = "Cancelled this channel's round-table. No more reminders will go out."
STEER_WHAT = "set up, change or cancel this channel's round-table"
NOTHING_TO_CANCEL = "This channel has no round-table to cancel."
RSVP_REFUSALS = {
    "not_found": "I can't find that round-table meeting any more.",
    "cancelled": "This round-table has been cancelled.",
    "started": "This round-table has already started, so answers are closed.",
}
DONE_REFUSALS = {
    "not_found": "Only the owner of this action item can mark it done.",
    "already_done": "This action item is already marked done.",
}
NOTES_ERRORS = {
    "empty": "Please write what the round-table decided, in the notes or for an elephant.",
    "too_long": "Please keep the notes shorter.",
    "not_found": "I can't find that round-table meeting any more.",
}


async def roundtable_command(request: CommandRequest, context: AppContext) -> Message | None:
    action, _, rest = request.arguments.partition(" ")
    action = action.lower()
    if action not in SET_UP_WORDS + CANCEL_WORDS + ("",):
        return Message(text=f"{unknown_words(action, after='roundtable')}\n{USAGE}")
    if rest.strip():
        return Message(text=f"{unknown_words(rest, after=f'roundtable {action}')}\n{USAGE}")
    if action == "":
        return await _overview(
            context, workspace_id=request.workspace_id, channel_id=request.channel_id, user_id=request.user_id
        )
    if not await _may_steer(
        context, workspace_id=request.workspace_id, channel_id=request.channel_id, user_id=request.user_id
    ):
        return not_allowed_to_steer(STEER_WHAT)
    if action in SET_UP_WORDS:
        if not request.trigger_id:
            # Teams opens a dialog only from a card's button, never from a typed message.
            return open_setup_form()
        await _open_setup_form(
            context,
            workspace_id=request.workspace_id,
            channel_id=request.channel_id,
            user_id=request.user_id,
            trigger_id=request.trigger_id,
        )
        return None
    async with session_scope(context.sessions) as session:
        cancelled = await cancel(
            session, workspace_id=request.workspace_id, channel_id=request.channel_id, now=context.clock()
        )
    if not cancelled:
        return Message(text=NOTHING_TO_CANCEL)
    context.schedule_changes.set()
    return Message(text=CANCELLED)


async def _may_steer(context: AppContext, *, workspace_id: str, channel_id: str, user_id: str) -> bool:
    """Whether this person may set up, change or cancel the channel's round-table, under the workspace's rule."""
    async with session_scope(context.sessions) as session:
        roundtable = await channel_roundtable(session, workspace_id=workspace_id, channel_id=channel_id)
        creator = roundtable.set_up_by if roundtable is not None else None
    return await may_steer_here(context, workspace_id=workspace_id, user_id=user_id, creator=creator)


async def _overview(context: AppContext, *, workspace_id: str, channel_id: str, user_id: str) -> Message:
    async with session_scope(context.sessions) as session:
        roundtable = await channel_roundtable(session, workspace_id=workspace_id, channel_id=channel_id)
    steerable = await _may_steer(context, workspace_id=workspace_id, channel_id=channel_id, user_id=user_id)
    if roundtable is None:
        return no_roundtable() if steerable else Message(text="This channel has no round-table yet.")
    return overview_reply(
        roundtable, now=context.clock(), missing=await _missing(context, roundtable), steerable=steerable
    )


async def _missing(context: AppContext, roundtable: RoundTable) -> list[str] | None:
    """The teams nobody invited belongs to; None when the platform could not tell us just now."""
    try:
        return await missing_teams(
            await context.gateway_for(roundtable.workspace_id),
            invitees=roundtable.invitees,
            group_ids=roundtable.invited_groups,
        )
    except DeliveryError:
        logger.exception("could not look up the round-table's invitees to see which teams are missing")
        return None


async def setup_dialog(
    context: AppContext,
    *,
    workspace_id: str,
    channel_id: str,
    user_id: str,
    own_zone: str,
    with_groups: bool = True,
) -> Dialog:
    """The set-up form for this channel: its round-table as it stands, or a new one in the person's own zone."""
    async with session_scope(context.sessions) as session:
        roundtable = await channel_roundtable(session, workspace_id=workspace_id, channel_id=channel_id)
    if roundtable is None:
        # When the platform did not say where the person is, the zone whoelse runs in is suggested.
        defaults = FormDefaults(own_zone=own_zone, timezone=own_zone or context.settings.default_timezone)
    else:
        defaults = FormDefaults(
            cadence=roundtable.cadence
            if roundtable.week_of_month is None
            else f"{roundtable.cadence}:{roundtable.week_of_month}",
            weekday=roundtable.weekday,
            at=roundtable.time_of_day.strftime("%H:%M"),
            timezone=roundtable.timezone,
            own_zone=own_zone,
            invitees=roundtable.invitees,
            groups=await _group_handles(context, workspace_id, roundtable.invited_groups) if with_groups else "",
            reminder_minutes=roundtable.reminder_minutes,
        )
    return setup_form(
        origin=FormOrigin(channel_id=channel_id, user_id=user_id),
        defaults=defaults,
        changing=roundtable is not None,
        with_groups=with_groups,
    )


async def _open_setup_form(
    context: AppContext, *, workspace_id: str, channel_id: str, user_id: str, trigger_id: str
) -> None:
    form = await setup_dialog(
        context,
        workspace_id=workspace_id,
        channel_id=channel_id,
        user_id=user_id,
        own_zone=await _timezone_of(context, workspace_id, user_id),
    )
    await open_dialog(
        context,
        trigger_id=trigger_id,
        dialog=form,
        workspace_id=workspace_id,
        channel_id=channel_id,
        user_id=user_id,
    )


async def _timezone_of(context: AppContext, workspace_id: str, user_id: str) -> str:
    """The caller's own time zone is what they most likely mean by "15:00"."""
    try:
        return (await (await context.gateway_for(workspace_id)).person(user=user_id)).timezone
    except DeliveryError:
        logger.warning("could not read the caller's time zone from Slack; suggesting the default")
        return context.settings.default_timezone


async def _group_handles(context: AppContext, workspace_id: str, group_ids: list[str]) -> str:
    if not group_ids:
        return ""
    try:
        gateway = await context.gateway_for(workspace_id)
        handles = {group.group_id: group.handle for group in await gateway.user_groups()}
    except DeliveryError:
        logger.warning("could not read user group handles; showing their ids")
        handles = {}
    return ", ".join(f"@{handles.get(group_id, group_id)}" for group_id in group_ids)


@dataclass(frozen=True)
class SavedSetup:
    roundtable: RoundTable
    changed: bool
    at: datetime


async def save_setup(
    context: AppContext, *, workspace_id: str, channel_id: str, user_id: str, plan: RoundTablePlan
) -> SavedSetup:
    """Saves the round-table the form describes and reschedules its reminders."""
    now = context.clock()
    async with session_scope(context.sessions) as session:
        roundtable, changed = await set_up(
            session,
            workspace_id=workspace_id,
            channel_id=channel_id,
            user_id=user_id,
            plan=plan,
            now=now,
            default_timezone=context.settings.default_timezone,
        )
    context.schedule_changes.set()
    return SavedSetup(roundtable, changed, now)


async def announce_setup(context: AppContext, saved: SavedSetup, *, user_id: str) -> None:
    """Tells the channel about the round-table just set up or changed (after the form is answered: asking the
    platform who is missing can take a moment)."""
    roundtable = saved.roundtable
    missing = await _missing(context, roundtable)
    async with session_scope(context.sessions) as session:
        await enqueue(
            session,
            workspace_id=roundtable.workspace_id,
            idempotency_key=f"roundtable:{roundtable.id}:set-up:{saved.at.isoformat()}",
            channel_id=roundtable.channel_id,
            message=announcement_message(
                roundtable, by_user=user_id, changed=saved.changed, now=saved.at, missing=missing
            ),
        )
    context.delivery.wake()


async def _tell(context: AppContext, *, workspace_id: str, channel_id: str, user_id: str, text: str) -> None:
    """A note only this person sees, through the outbox like every message."""
    async with session_scope(context.sessions) as session:
        await tell_privately(
            session,
            workspace_id=workspace_id,
            channel_id=channel_id,
            user_id=user_id,
            text=text,
            key=f"roundtable:notice:{uuid.uuid4().hex}",
        )
    context.delivery.wake()


async def _tell_who_clicked(context: AppContext, body: dict[str, Any], text: str) -> None:
    """A note only the person who clicked sees, in the channel of the message clicked; a click naming no channel
    has nowhere to be answered."""
    channel_id = channel_of(body)
    if channel_id:
        await _tell(
            context, workspace_id=team_of(body), channel_id=channel_id, user_id=str(body["user"]["id"]), text=text
        )


def _meeting_id(body: dict[str, Any]) -> int | None:
    return parse_id(body["actions"][0].get("value"))


def add_commands(router: CommandRouter) -> None:
    router.add(
        roundtable_command,
        syntax="roundtable set|cancel",
        summary=f"a recurring cross-functional round-table for this channel ({command('roundtable')} alone shows it)",
        order=70,
        on_teams=True,
    )


def register(bolt: AsyncApp, context: AppContext, router: CommandRouter) -> None:
    @bolt.action(CHANGE_BUTTON)
    async def on_change(ack: AsyncAck, body: dict[str, Any]) -> None:
        await ack()
        channel_id = channel_of(body)
        if not channel_id:
            logger.warning("round-table button clicked without a channel", extra={"workspace": team_of(body)})
            return
        workspace_id, user_id = team_of(body), str(body["user"]["id"])
        if not await _may_steer(context, workspace_id=workspace_id, channel_id=channel_id, user_id=user_id):
            await _tell_who_clicked(context, body, not_allowed_to_steer(STEER_WHAT).text)
            return
        await _open_setup_form(
            context,
            workspace_id=workspace_id,
            channel_id=channel_id,
            user_id=user_id,
            trigger_id=str(body["trigger_id"]),
        )

    @bolt.action(CANCEL_BUTTON)
    async def on_cancel(ack: AsyncAck, body: dict[str, Any]) -> None:
        await ack()
        workspace_id, channel_id = team_of(body), channel_of(body)
        if not channel_id:
            # Nothing to cancel, and nowhere to say so.
            logger.warning("round-table button clicked without a channel", extra={"workspace": workspace_id})
            return
        user_id = str(body["user"]["id"])
        if not await _may_steer(context, workspace_id=workspace_id, channel_id=channel_id, user_id=user_id):
            await _tell_who_clicked(context, body, not_allowed_to_steer(STEER_WHAT).text)
            return
        async with session_scope(context.sessions) as session:
            cancelled = await cancel(
                session, workspace_id=workspace_id, channel_id=channel_id, now=context.clock()
            )
        if cancelled:
            context.schedule_changes.set()
        await _tell_who_clicked(context, body, CANCELLED if cancelled else NOTHING_TO_CANCEL)

    @bolt.view(SETUP_FORM)
    async def on_setup(ack: AsyncAck, body: dict[str, Any], view: dict[str, Any]) -> None:
        workspace_id, user_id = team_of(body), str(body["user"]["id"])
        origin = read_origin(view.get("private_metadata"), user_id=user_id)
        if origin is None:
            logger.warning(
                "refused a round-table form that %s did not open", user_id, extra={"workspace": workspace_id}
            )
            await ack(response_action="errors", errors={CADENCE: NOT_YOUR_FORM})
            return
        channel_id = origin.channel_id
        if not await _may_steer(context, workspace_id=workspace_id, channel_id=channel_id, user_id=user_id):
            await ack(response_action="errors", errors={CADENCE: not_allowed_to_steer(STEER_WHAT).text})
            return
        values = dialog_values(view.get("state") or {})
        known_groups = []
        if values.get(GROUPS):
            try:
                known_groups = await (await context.gateway_for(workspace_id)).user_groups()
            except DeliveryError as error:
                logger.exception("could not read the workspace's user groups from Slack")
                why = trouble_asking_slack(error, to="read this workspace's user groups")
                await ack(response_action="errors", errors={GROUPS: why})
                return
        try:
            plan = read_setup_form(values, known_groups=known_groups)
        except FormErrors as problems:
            await ack(response_action="errors", errors=problems.errors)
            return
        saved = await save_setup(
            context, workspace_id=workspace_id, channel_id=channel_id, user_id=user_id, plan=plan
        )
        await ack()
        await announce_setup(context, saved, user_id=user_id)

    async def on_rsvp(ack: AsyncAck, body: dict[str, Any], *, attending: bool) -> None:
        await ack()
        workspace_id, channel_id, user_id = team_of(body), channel_of(body), str(body["user"]["id"])
        meeting_id = _meeting_id(body)
        outcome = "not_found"
        if meeting_id is not None and channel_id:
            async with session_scope(context.sessions) as session:
                outcome = await answer_rsvp(
                    session,
                    workspace_id=workspace_id,
                    channel_id=channel_id,
                    meeting_id=meeting_id,
                    user_id=user_id,
                    attending=attending,
                    now=context.clock(),
                )
        if outcome == "recorded":
            context.delivery.wake()
            return
        await _tell_who_clicked(context, body, RSVP_REFUSALS[outcome])

    @bolt.action(COMING_BUTTON)
    async def on_coming(ack: AsyncAck, body: dict[str, Any]) -> None:
        await on_rsvp(ack, body, attending=True)

    @bolt.action(NOT_COMING_BUTTON)
    async def on_not_coming(ack: AsyncAck, body: dict[str, Any]) -> None:
        await on_rsvp(ack, body, attending=False)

    @bolt.action(NOTES_BUTTON)
    async def on_notes(ack: AsyncAck, body: dict[str, Any]) -> None:
        await ack()
        workspace_id, channel_id, user_id = team_of(body), channel_of(body), str(body["user"]["id"])
        meeting_id = _meeting_id(body)
        dialog = None
        if meeting_id is not None and channel_id:
            async with session_scope(context.sessions) as session:
                dialog = await notes_dialog(
                    session,
                    workspace_id=workspace_id,
                    channel_id=channel_id,
                    meeting_id=meeting_id,
                    opened_by=user_id,
                )
        if dialog is None:
            await _tell_who_clicked(context, body, NOTES_ERRORS["not_found"])
            return
        await open_dialog(
            context,
            trigger_id=str(body["trigger_id"]),
            dialog=dialog,
            workspace_id=workspace_id,
            channel_id=channel_id,
            user_id=user_id,
        )

    @bolt.action(DONE_BUTTON)
    async def on_done(ack: AsyncAck, body: dict[str, Any]) -> None:
        await ack()
        workspace_id, user_id = team_of(body), str(body["user"]["id"])
        item_id = parse_id(body["actions"][0].get("value"))
        outcome = "not_found"
        if item_id is not None:
            async with session_scope(context.sessions) as session:
                outcome = await mark_done(
                    session, workspace_id=workspace_id, item_id=item_id, user_id=user_id, now=context.clock()
                )
        if outcome == "done":
            context.delivery.wake()
            return
        logger.info("refused to mark an action item done: %s", outcome, extra={"workspace": workspace_id})
        await _tell_who_clicked(context, body, DONE_REFUSALS[outcome])

    @bolt.view(NOTES_FORM)
    async def on_notes_submitted(ack: AsyncAck, body: dict[str, Any], view: dict[str, Any]) -> None:
        form = await form_about_subject(ack, body, view, field=NOTES)
        if form is None:
            return
        text = form.values.get(NOTES)
        try:
            async with session_scope(context.sessions) as session:
                outcome = await save_notes(
                    session,
                    workspace_id=form.workspace_id,
                    channel_id=form.channel_id,
                    meeting_id=form.subject_id,
                    user_id=form.user_id,
                    text=text if isinstance(text, str) else "",
                    now=context.clock(),
                    values=form.values,
                )
        except FormErrors as problems:
            await ack(response_action="errors", errors=problems.errors)
            return
        if outcome in NOTES_ERRORS:
            await ack(response_action="errors", errors={NOTES: NOTES_ERRORS[outcome]})
            return
        await ack()
        context.delivery.wake()
