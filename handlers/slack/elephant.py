"""`/whoelse elephant …`, the poll's buttons and its two forms: Slack payloads in, domain calls out.

Answers are confirmed in the form itself (Slack's view response), never with a message: a queued "thanks" would
record who answered when.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Mapping
from typing import Any

from slack_bolt.async_app import AsyncAck, AsyncApp

from bot.context import AppContext
from bot.gateway import DeliveryError
from bot.slack.blocks import render_dialog
from habits.command_help import unknown_words
from habits.elephants.closing import close_early, starter_of
from habits.elephants.form_answers import NOTHING_PICKED, record_approval, record_ballot, record_naming
from habits.elephants.forms import form_for
from habits.elephants.history import history_message, past_polls
from habits.elephants.messages import (
    APPROVAL_FORM,
    APPROVED_THANKS,
    BALLOT_FORM,
    CHOICE_INPUT,
    CLOSE_BUTTON,
    INFO_FORM,
    MAX_TEXT,
    NAME_BUTTON,
    NAMED_THANKS,
    PICK_ONE,
    POLL_CLOSED,
    SUBMIT_FORM,
    TEXT_INPUT,
    VOTE_BUTTON,
    VOTED_THANKS,
    ballot_of,
    close_control,
    info_form,
)
from habits.elephants.polls import NOT_HERE, start_poll_now
from habits.elephants.schedule import (
    MODE_NAMES,
    MODE_SYNTAX,
    NOW_SYNTAX,
    NOW_USAGE,
    WEEKLY_SYNTAX,
    ScheduleError,
    overview,
    parse_mode,
    parse_open_for,
    parse_weekly,
    set_mode,
    set_weekly,
    split_mode,
    stop_weekly,
    weekly_confirmation,
)
from habits.form_origin import NOT_YOUR_FORM
from habits.ids import parse_id
from habits.messages import Message, Paragraph, command
from habits.private_notes import tell_privately
from habits.steering import may_close_early, not_allowed_to_close, not_allowed_to_steer
from handlers.commands import CommandRequest, CommandRouter
from handlers.slack.clicks import channel_of, team_of
from handlers.slack.dialogs import open_dialog
from handlers.slack.sent_forms import form_about_subject
from handlers.steering import may_steer_here, steerer_of
from models.db import session_scope
from models.elephants import get_poll, open_poll_in_channel, schedule_for_channel
from models.outbox import enqueue
from models.workspaces import get_or_create_workspace

logger = logging.getLogger(__name__)

USAGE = (
    "*Elephant-in-the-room polls* — anonymous, weekly:\n"
    f"• {command('elephant')} — this channel's schedule and open poll\n"
    f"• {command(NOW_SYNTAX)} — start a poll here now\n"
    f"• {command(WEEKLY_SYNTAX)} — a poll every week\n"
    f"• {command(MODE_SYNTAX)} — how this channel's weekly polls run\n"
    f"• {command('elephant close')} — close the open poll now (its starter and admins)\n"
    f"• {command('elephant history')} — this channel's last polls\n"
    f"• {command('elephant off')} — stop the weekly poll"
)
CLOSE_ANSWERS = {
    "closed": "Closed the elephant poll. Its results are posted in the channel now.",
    "no_open_poll": "There's no elephant poll open in this channel to close.",
}

SUBMIT_ERRORS = {
    "empty": "Please write what the elephant is.",
    "too_long": f"Please keep it under {MAX_TEXT} characters.",
    "already_named": "You've already named an elephant in this poll. One each keeps it fair.",
    "naming_closed": "Naming has closed for this poll; voting is open instead.",
    "poll_closed": POLL_CLOSED,
    "not_found": "This poll no longer exists.",
}
VOTE_ERRORS = {
    "already_voted": "You've already voted in this poll. One vote each keeps it fair.",
    # Before the poll's naming half is over; once it has closed the outcome is "poll_closed".
    "voting_not_open": "Voting hasn't opened yet: it opens when naming closes.",
    "poll_closed": POLL_CLOSED,
    "unknown_choice": "That elephant isn't in this poll any more. Please pick another.",
    "ballot_changed": "You've voted on some of these in another ballot since. Please open the ballot again.",
    "not_found": "This poll no longer exists.",
    NOTHING_PICKED: PICK_ONE,
}


async def elephant_command(request: CommandRequest, context: AppContext) -> Message:
    action, _, rest = request.arguments.partition(" ")
    action = action.lower()
    try:
        if action == "":
            return await _overview(request, context)
        if action == "now":
            return await _start_now(request, context, rest)
        if action == "weekly":
            return await _set_weekly(request, context, rest)
        if action == "mode":
            return await _set_mode(request, context, rest)
        if action == "close":
            if rest.strip():
                return Message(text=f"{unknown_words(rest, after='elephant close')}\n{USAGE}")
            return await _close(request, context)
        if action == "history":
            if rest.strip():
                return Message(text=f"{unknown_words(rest, after='elephant history')}\n{USAGE}")
            return await _history(request, context)
        if action in ("off", "stop"):
            if rest.strip():
                return Message(text=f"{unknown_words(rest, after=f'elephant {action}')}\n{USAGE}")
            return await _stop(request, context)
    except ScheduleError as problem:
        return Message(text=str(problem))
    return Message(text=f"{unknown_words(action, after='elephant')}\n{USAGE}")


async def _schedule_creator(request: CommandRequest, context: AppContext) -> str | None:
    async with session_scope(context.sessions) as session:
        schedule = await schedule_for_channel(
            session, workspace_id=request.workspace_id, channel_id=request.channel_id
        )
        return schedule.created_by if schedule is not None else None


async def _may_steer(request: CommandRequest, context: AppContext) -> bool:
    return await may_steer_here(
        context,
        workspace_id=request.workspace_id,
        user_id=request.user_id,
        creator=await _schedule_creator(request, context),
    )


async def _overview(request: CommandRequest, context: AppContext) -> Message:
    """The overview, with "Close now" under it for someone who may close the open poll."""
    async with session_scope(context.sessions) as session:
        reply = await overview(
            session, workspace_id=request.workspace_id, channel_id=request.channel_id, now=context.clock()
        )
        current = await open_poll_in_channel(
            session, workspace_id=request.workspace_id, channel_id=request.channel_id
        )
        starter = await starter_of(session, current) if current is not None else None
    if current is None:
        return reply
    if starter != request.user_id:
        steerer = await steerer_of(context, workspace_id=request.workspace_id, user_id=request.user_id)
        if not may_close_early(steerer, started_by=starter):
            return reply
    return Message(text=reply.text, parts=[Paragraph(text=reply.text), close_control(poll_id=current.id)])


async def _set_weekly(request: CommandRequest, context: AppContext, rest: str) -> Message:
    plan = parse_weekly(rest, default_timezone=await _timezone_of(request, context))
    if not await _may_steer(request, context):
        return not_allowed_to_steer("set or change this channel's weekly elephant poll")
    now = context.clock()
    async with session_scope(context.sessions) as session:
        schedule = await set_weekly(
            session,
            workspace_id=request.workspace_id,
            channel_id=request.channel_id,
            plan=plan,
            now=now,
            set_by=request.user_id,
        )
        reply = weekly_confirmation(schedule, now=now)
    context.schedule_changes.set()
    return reply


async def _set_mode(request: CommandRequest, context: AppContext, rest: str) -> Message:
    words = rest.split()
    if len(words) != 1:
        raise ScheduleError(f"How should this channel's polls run? Try {command(MODE_SYNTAX)}.")
    mode = parse_mode(words[0])
    if not await _may_steer(request, context):
        return not_allowed_to_steer("change how this channel's elephant polls run")
    async with session_scope(context.sessions) as session:
        changed = await set_mode(
            session, workspace_id=request.workspace_id, channel_id=request.channel_id, mode=mode
        )
    if not changed:
        return Message(
            text=(
                "This channel has no weekly elephant poll to change. Give a one-off poll its way when you start "
                f"it, e.g. {command('elephant now ' + words[0].lower())}."
            )
        )
    return Message(
        text=f"From the next one on, this channel's weekly elephant polls run {MODE_NAMES[mode]}. "
        "A poll open now keeps running the way it started."
    )


async def _stop(request: CommandRequest, context: AppContext) -> Message:
    if not await _may_steer(request, context):
        return not_allowed_to_steer("stop this channel's weekly elephant poll")
    async with session_scope(context.sessions) as session:
        stopped = await stop_weekly(session, workspace_id=request.workspace_id, channel_id=request.channel_id)
    if not stopped:
        return Message(text="This channel has no weekly elephant poll to stop.")
    context.schedule_changes.set()
    return Message(text="Stopped the weekly elephant poll here. A poll that is open now still runs to the end.")


async def _close(request: CommandRequest, context: AppContext) -> Message:
    return await close_poll_for(
        context, workspace_id=request.workspace_id, channel_id=request.channel_id, user_id=request.user_id
    )


async def close_poll_for(
    context: AppContext, *, workspace_id: str, channel_id: str, user_id: str, poll_id: int | None = None
) -> Message:
    """Closes the channel's open poll (or the one a "Close now" click names) for its starter or an admin."""
    steerer = await steerer_of(context, workspace_id=workspace_id, user_id=user_id)
    async with session_scope(context.sessions) as session:
        outcome = await close_early(
            session,
            workspace_id=workspace_id,
            channel_id=channel_id,
            steerer=steerer,
            now=context.clock(),
            poll_id=poll_id,
        )
    if outcome == "not_allowed":
        logger.warning(
            "refused to close an elephant poll early for someone who did not start it and is no admin",
            extra={"workspace": workspace_id, "channel": channel_id},
        )
        return not_allowed_to_close()
    if outcome == "closed":
        context.delivery.wake()
    return Message(text=CLOSE_ANSWERS[outcome])


async def _history(request: CommandRequest, context: AppContext) -> Message:
    async with session_scope(context.sessions) as session:
        history = await past_polls(session, workspace_id=request.workspace_id, channel_id=request.channel_id)
        schedule = await schedule_for_channel(
            session, workspace_id=request.workspace_id, channel_id=request.channel_id
        )
        timezone = (
            schedule.timezone
            if schedule is not None
            else (await get_or_create_workspace(session, workspace_id=request.workspace_id)).timezone
        )
    return history_message(history, now=context.clock(), timezone=timezone)


async def _start_now(request: CommandRequest, context: AppContext, rest: str) -> Message:
    try:
        mode, words = split_mode(rest.split())
        open_for = parse_open_for(words)
    except ScheduleError as problem:
        return Message(text=f"{problem} Try {NOW_USAGE}.")
    if not await _may_steer(request, context):
        return not_allowed_to_steer("start an elephant poll in this channel")
    async with session_scope(context.sessions) as session:
        outcome, poll = await start_poll_now(
            session,
            workspace_id=request.workspace_id,
            channel_id=request.channel_id,
            now=context.clock(),
            started_by=request.user_id,
            open_for=open_for,
            mode=mode,
        )
    if outcome == "already_open":
        return Message(text="There's already an elephant poll open in this channel; it has to close first.")
    context.delivery.wake()
    started = (
        "Started an anonymous elephant-in-the-room poll in this channel. You (and workspace admins) can close it "
        f"early with the button below or {command('elephant close')}."
    )
    return Message(text=started, parts=[Paragraph(text=started), close_control(poll_id=poll.id)])


async def _timezone_of(request: CommandRequest, context: AppContext) -> str:
    """The caller's own time zone (what they mean by "09:00"), else the workspace's (Teams never says a person's)."""
    try:
        gateway = await context.gateway_for(request.workspace_id)
        timezone = (await gateway.person(user=request.user_id)).timezone
    except DeliveryError:
        logger.warning("could not read the caller's time zone; using the workspace's")
        timezone = ""
    if timezone:
        return timezone
    async with session_scope(context.sessions) as session:
        workspace = await get_or_create_workspace(
            session, workspace_id=request.workspace_id, default_timezone=context.settings.default_timezone
        )
        return workspace.timezone


def add_commands(router: CommandRouter) -> None:
    router.add(
        elephant_command,
        syntax="elephant now|weekly|mode|close|history|off",
        summary=f"anonymous elephant-in-the-room polls, once or every week ({command('elephant')} alone says more)",
        order=60,
        on_teams=True,
    )


async def _thank_or_refuse(
    ack: AsyncAck, outcome: str, *, thanks: str, field: str, refusals: Mapping[str, str]
) -> None:
    """A recorded answer turns the form into the thanks; anything else is said next to the field."""
    if outcome == "recorded":
        await ack(response_action="update", view=render_dialog(info_form(thanks)))
        return
    await ack(response_action="errors", errors={field: refusals[outcome]})


def register(bolt: AsyncApp, context: AppContext, router: CommandRouter) -> None:
    async def open_form(ack: AsyncAck, body: dict[str, Any]) -> None:
        await ack()
        poll_id = parse_id(body["actions"][0].get("value"))
        workspace_id, channel_id, user_id = team_of(body), channel_of(body), str(body["user"]["id"])
        async with session_scope(context.sessions) as session:
            dialog = (
                None
                if poll_id is None or not channel_id
                else await form_for(
                    session,
                    workspace_id=workspace_id,
                    channel_id=channel_id,
                    poll_id=poll_id,
                    user_id=user_id,
                    now=context.clock(),
                    wanted="vote" if body["actions"][0].get("action_id") == VOTE_BUTTON else "name",
                )
            )
            if dialog is None:
                logger.warning(
                    "refused a click on elephant poll %s: it is not in the channel clicked from",
                    poll_id,
                    extra={"workspace": workspace_id, "channel": channel_id, "user": user_id},
                )
                if channel_id:
                    await tell_privately(
                        session,
                        workspace_id=workspace_id,
                        channel_id=channel_id,
                        user_id=user_id,
                        text=NOT_HERE,
                        now=context.clock(),
                    )
        if dialog is None:
            context.delivery.wake()
            return
        await open_dialog(
            context,
            trigger_id=str(body["trigger_id"]),
            dialog=dialog,
            workspace_id=workspace_id,
            channel_id=channel_id,
            user_id=user_id,
        )

    bolt.action(NAME_BUTTON)(open_form)
    bolt.action(VOTE_BUTTON)(open_form)

    @bolt.view(SUBMIT_FORM)
    async def on_submission(ack: AsyncAck, body: dict[str, Any], view: dict[str, Any]) -> None:
        form = await form_about_subject(ack, body, view, field=TEXT_INPUT)
        if form is None:
            return
        outcome = await record_naming(context.sessions, form, now=context.clock())
        await _thank_or_refuse(ack, outcome, thanks=NAMED_THANKS, field=TEXT_INPUT, refusals=SUBMIT_ERRORS)

    @bolt.view(BALLOT_FORM)
    async def on_ballot(ack: AsyncAck, body: dict[str, Any], view: dict[str, Any]) -> None:
        form = await form_about_subject(ack, body, view, field=CHOICE_INPUT)
        if form is None:
            return
        outcome = await record_ballot(context.sessions, form, now=context.clock())
        await _thank_or_refuse(ack, outcome, thanks=VOTED_THANKS, field=CHOICE_INPUT, refusals=VOTE_ERRORS)

    @bolt.view(APPROVAL_FORM)
    async def on_approval(ack: AsyncAck, body: dict[str, Any], view: dict[str, Any]) -> None:
        shown = ballot_of(view.get("private_metadata"))
        if shown is None:
            await ack(response_action="errors", errors={CHOICE_INPUT: NOT_YOUR_FORM})
            return
        form = await form_about_subject(ack, body, view, field=CHOICE_INPUT)
        if form is None:
            return
        outcome = await record_approval(context.sessions, form, shown=shown, now=context.clock())
        await _thank_or_refuse(ack, outcome, thanks=APPROVED_THANKS, field=CHOICE_INPUT, refusals=VOTE_ERRORS)

    @bolt.action(CLOSE_BUTTON)
    async def on_close(ack: AsyncAck, body: dict[str, Any]) -> None:
        """ "Close now" is only shown to those who may, but any click is checked again: a forged one is refused."""
        await ack()
        poll_id = parse_id(body["actions"][0].get("value"))
        workspace_id, channel_id, user_id = team_of(body), channel_of(body), str(body["user"]["id"])
        if not channel_id:
            # From the Home tab, which has no channel: the poll's own, answered by direct message.
            await _close_from_home(context, workspace_id=workspace_id, user_id=user_id, poll_id=poll_id)
            return
        answer = (
            Message(text=NOT_HERE)
            if poll_id is None
            else await close_poll_for(
                context, workspace_id=workspace_id, channel_id=channel_id, user_id=user_id, poll_id=poll_id
            )
        )
        async with session_scope(context.sessions) as session:
            await tell_privately(
                session,
                workspace_id=workspace_id,
                channel_id=channel_id,
                user_id=user_id,
                text=answer.text,
                now=context.clock(),
            )
        context.delivery.wake()

    @bolt.view(INFO_FORM)
    async def on_info_closed(ack: AsyncAck) -> None:
        await ack()


async def _close_from_home(context: AppContext, *, workspace_id: str, user_id: str, poll_id: int | None) -> None:
    async with session_scope(context.sessions) as session:
        poll = None if poll_id is None else await get_poll(session, workspace_id=workspace_id, poll_id=poll_id)
        channel_id = poll.channel_id if poll is not None else None
    answer = (
        Message(text=CLOSE_ANSWERS["no_open_poll"])
        if channel_id is None
        else await close_poll_for(
            context, workspace_id=workspace_id, channel_id=channel_id, user_id=user_id, poll_id=poll_id
        )
    )
    async with session_scope(context.sessions) as session:
        await enqueue(
            session,
            workspace_id=workspace_id,
            idempotency_key=f"elephant:close-answer:{uuid.uuid4().hex}",
            dm_user_id=user_id,
            message=answer,
        )
    context.delivery.wake()
