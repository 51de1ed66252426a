"""`/whoelse elephant …`, the poll's buttons and its two forms: Slack payloads in, domain calls out.

Answers are confirmed in the form itself (Slack's view response), never with a message: a queued "thanks" would
record who answered when.
"""

from __future__ import annotations

import logging
from typing import Any

from slack_bolt.async_app import AsyncAck, AsyncApp

from bot.context import AppContext
from bot.gateway import DeliveryError
from bot.slack.blocks import dialog_values, render_dialog
from habits.command_help import unknown_words
from habits.elephants.messages import (
    BALLOT_FORM,
    CHOICE_INPUT,
    INFO_FORM,
    MAX_TEXT,
    NAME_BUTTON,
    POLL_CLOSED,
    SUBMIT_FORM,
    TEXT_INPUT,
    VOTE_BUTTON,
    info_form,
)
from habits.elephants.polls import NOT_HERE, cast_vote, form_for, name_elephant, start_poll_now
from habits.elephants.schedule import (
    NOW_SYNTAX,
    NOW_USAGE,
    WEEKLY_SYNTAX,
    ScheduleError,
    overview,
    parse_open_for,
    parse_weekly,
    set_weekly,
    stop_weekly,
    weekly_confirmation,
)
from habits.form_origin import NOT_YOUR_FORM, read_origin
from habits.ids import parse_id
from habits.messages import Message, command
from habits.private_notes import tell_privately
from handlers.commands import CommandRequest, CommandRouter
from handlers.slack.dialogs import open_dialog
from models.db import session_scope
from models.workspaces import get_or_create_workspace

logger = logging.getLogger(__name__)

USAGE = (
    "*Elephant-in-the-room polls* — anonymous, weekly:\n"
    f"• {command('elephant')} — this channel's schedule and open poll\n"
    f"• {command(NOW_SYNTAX)} — start a poll here now\n"
    f"• {command(WEEKLY_SYNTAX)} — a poll every week\n"
    f"• {command('elephant off')} — stop the weekly poll"
)

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
    "not_found": "This poll no longer exists.",
}


async def elephant_command(request: CommandRequest, context: AppContext) -> Message:
    action, _, rest = request.arguments.partition(" ")
    action = action.lower()
    now = context.clock()
    try:
        if action == "":
            async with session_scope(context.sessions) as session:
                return await overview(
                    session, workspace_id=request.workspace_id, channel_id=request.channel_id, now=now
                )
        if action == "now":
            return await _start_now(request, context, rest)
        if action == "weekly":
            plan = parse_weekly(rest, default_timezone=await _timezone_of(request, context))
            async with session_scope(context.sessions) as session:
                schedule = await set_weekly(
                    session, workspace_id=request.workspace_id, channel_id=request.channel_id, plan=plan, now=now
                )
                reply = weekly_confirmation(schedule, now=now)
            context.schedule_changes.set()
            return reply
        if action in ("off", "stop"):
            if rest.strip():
                return Message(text=f"{unknown_words(rest, after=f'elephant {action}')}\n{USAGE}")
            async with session_scope(context.sessions) as session:
                stopped = await stop_weekly(
                    session, workspace_id=request.workspace_id, channel_id=request.channel_id
                )
            if not stopped:
                return Message(text="This channel has no weekly elephant poll to stop.")
            context.schedule_changes.set()
            return Message(
                text="Stopped the weekly elephant poll here. A poll that is open now still runs to the end."
            )
    except ScheduleError as problem:
        return Message(text=str(problem))
    return Message(text=f"{unknown_words(action, after='elephant')}\n{USAGE}")


async def _start_now(request: CommandRequest, context: AppContext, rest: str) -> Message:
    try:
        open_for = parse_open_for(rest.split())
    except ScheduleError as problem:
        return Message(text=f"{problem} Try {NOW_USAGE}.")
    async with session_scope(context.sessions) as session:
        outcome, _poll = await start_poll_now(
            session,
            workspace_id=request.workspace_id,
            channel_id=request.channel_id,
            now=context.clock(),
            open_for=open_for,
        )
    if outcome == "already_open":
        return Message(text="There's already an elephant poll open in this channel; it has to close first.")
    context.delivery.wake()
    return Message(text="Started an anonymous elephant-in-the-room poll in this channel.")


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
        syntax="elephant now|weekly|off",
        summary=f"anonymous elephant-in-the-room polls, once or every week ({command('elephant')} alone says more)",
        order=60,
        on_teams=True,
    )


def register(bolt: AsyncApp, context: AppContext, router: CommandRouter) -> None:
    async def open_form(ack: AsyncAck, body: dict[str, Any]) -> None:
        await ack()
        poll_id = parse_id(body["actions"][0].get("value"))
        workspace_id, channel_id, user_id = _team(body), _channel(body), str(body["user"]["id"])
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
        user_id = str(body["user"]["id"])
        origin = read_origin(view.get("private_metadata"), user_id=user_id)
        if origin is None or origin.subject_id is None:
            await ack(response_action="errors", errors={TEXT_INPUT: NOT_YOUR_FORM})
            return
        text = dialog_values(view.get("state") or {}).get(TEXT_INPUT)
        outcome = await name_elephant(
            context.sessions,
            workspace_id=_team(body),
            channel_id=origin.channel_id,
            poll_id=origin.subject_id,
            user_id=user_id,
            text=text if isinstance(text, str) else "",
            now=context.clock(),
        )
        if outcome == "recorded":
            thanks = info_form(
                "Thank you. Your elephant is in — with no name attached. Voting opens when naming closes."
            )
            await ack(response_action="update", view=render_dialog(thanks))
            return
        await ack(response_action="errors", errors={TEXT_INPUT: SUBMIT_ERRORS[outcome]})

    @bolt.view(BALLOT_FORM)
    async def on_ballot(ack: AsyncAck, body: dict[str, Any], view: dict[str, Any]) -> None:
        user_id = str(body["user"]["id"])
        origin = read_origin(view.get("private_metadata"), user_id=user_id)
        if origin is None or origin.subject_id is None:
            await ack(response_action="errors", errors={CHOICE_INPUT: NOT_YOUR_FORM})
            return
        choice = dialog_values(view.get("state") or {}).get(CHOICE_INPUT)
        if not isinstance(choice, str) or not choice:
            await ack(
                response_action="errors", errors={CHOICE_INPUT: "Please pick the elephant that matters most."}
            )
            return
        outcome = await cast_vote(
            context.sessions,
            workspace_id=_team(body),
            channel_id=origin.channel_id,
            poll_id=origin.subject_id,
            user_id=user_id,
            submission_id=choice,
            now=context.clock(),
        )
        if outcome == "recorded":
            thanks = info_form(
                "Thank you. Your vote is counted — and only counted. Results come when the poll closes."
            )
            await ack(response_action="update", view=render_dialog(thanks))
            return
        await ack(response_action="errors", errors={CHOICE_INPUT: VOTE_ERRORS[outcome]})

    @bolt.view(INFO_FORM)
    async def on_info_closed(ack: AsyncAck) -> None:
        await ack()


def _team(body: dict[str, Any]) -> str:
    return str((body.get("team") or {}).get("id") or body["user"]["team_id"])


def _channel(body: dict[str, Any]) -> str:
    """The channel of the message clicked, or "" when the payload names none."""
    return str((body.get("channel") or {}).get("id") or (body.get("container") or {}).get("channel_id") or "")
