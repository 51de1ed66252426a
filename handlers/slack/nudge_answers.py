"""Clicks on a nudge: the people picker, "Nobody else", and the help form. Everything comes from the payload and
the database, so buttons keep working after a restart."""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass
from typing import Any

from slack_bolt.async_app import AsyncAck, AsyncApp
from sqlalchemy.ext.asyncio import AsyncSession

from bot.context import AppContext
from bot.gateway import DeliveryError
from bot.slack.blocks import dialog_values
from habits.form_origin import NOT_YOUR_FORM, read_origin
from habits.nudge_answers import (
    NOT_HERE,
    help_dialog,
    help_errors,
    loop_in,
    nobody_else,
    nudge_in_channel,
    record_help,
    refuse,
)
from habits.nudge_message import HELP_OPEN, HELP_SUBMIT, LOOP_IN_NOBODY, LOOP_IN_PICK, nudge_id_from
from handlers.commands import CommandRouter
from handlers.slack.clicks import team_of
from handlers.slack.dialogs import open_dialog
from handlers.slack.home import refresh_home
from models.db import session_scope
from models.nudges import Nudge

logger = logging.getLogger(__name__)
# Slackbot is not flagged as a bot by users.info, and looping it in reaches no one.
SLACKBOT = "USLACKBOT"


@dataclass(frozen=True)
class Click:
    """Who clicked a nudge's control, where, and on which nudge (None when the payload names none)."""

    workspace_id: str
    user_id: str
    channel_id: str
    thread_ts: str | None
    nudge_id: int | None


def _click(body: dict[str, Any], action: dict[str, Any]) -> Click:
    container = body.get("container") or {}
    return Click(
        workspace_id=team_of(body),
        user_id=str(body["user"]["id"]),
        channel_id=str((body.get("channel") or {}).get("id") or container.get("channel_id") or ""),
        thread_ts=container.get("thread_ts"),
        # The picker has no value in Slack's payload; its block id carries the nudge id too.
        nudge_id=nudge_id_from(action.get("value") or action.get("block_id")),
    )


async def _clicked_nudge(session: AsyncSession, click: Click, context: AppContext) -> Nudge | None:
    """The nudge this click answers, or None after privately telling the person why it cannot be answered here."""
    nudge = (
        None
        if click.nudge_id is None or not click.channel_id
        else await nudge_in_channel(
            session, workspace_id=click.workspace_id, channel_id=click.channel_id, nudge_id=click.nudge_id
        )
    )
    if nudge is not None:
        return nudge
    logger.warning(
        "refused an answer to nudge %s: it is not in the channel clicked from",
        click.nudge_id,
        extra={"workspace": click.workspace_id, "channel": click.channel_id, "user": click.user_id},
    )
    if click.channel_id:
        await refuse(
            session,
            workspace_id=click.workspace_id,
            channel_id=click.channel_id,
            user_id=click.user_id,
            now=context.clock(),
            thread_ts=click.thread_ts,
        )
    return None


async def _bots_among(context: AppContext, workspace_id: str, users: list[str]) -> set[str]:
    """Slack's people picker offers apps and bots too; looping one in would tell no one."""

    async def is_bot(user: str) -> bool:
        if user == SLACKBOT:
            return True
        try:
            return (await (await context.gateway_for(workspace_id)).person(user=user)).is_bot
        except DeliveryError:
            logger.warning("could not tell whether %s is a bot; treating them as a person", user)
            return False

    flags = await asyncio.gather(*(is_bot(user) for user in users))
    return {user for user, bot in zip(users, flags, strict=True) if bot}


def register(bolt: AsyncApp, context: AppContext, router: CommandRouter) -> None:
    """Registers the nudge's interactions; `router` is unused (answers come from clicks, not commands)."""

    @bolt.action(LOOP_IN_PICK)
    async def on_pick(ack: AsyncAck, body: dict[str, Any], action: dict[str, Any]) -> None:
        await ack()
        click = _click(body, action)
        picked = [str(user) for user in action.get("selected_users") or []]
        # Asked before the transaction opens, so no database lock is held across calls to Slack.
        bots = await _bots_among(context, click.workspace_id, picked)
        async with session_scope(context.sessions) as session:
            nudge = await _clicked_nudge(session, click, context)
            if nudge is not None:
                await loop_in(
                    session, nudge=nudge, by_user=click.user_id, picked=picked, now=context.clock(), ignore=bots
                )
        context.delivery.wake()
        refresh_home(context, workspace_id=click.workspace_id, user_id=click.user_id)

    @bolt.action(LOOP_IN_NOBODY)
    async def on_nobody(ack: AsyncAck, body: dict[str, Any], action: dict[str, Any]) -> None:
        await ack()
        click = _click(body, action)
        async with session_scope(context.sessions) as session:
            nudge = await _clicked_nudge(session, click, context)
            if nudge is not None:
                await nobody_else(
                    session, nudge=nudge, by_user=click.user_id, now=context.clock(), thread_ts=click.thread_ts
                )
        context.delivery.wake()
        refresh_home(context, workspace_id=click.workspace_id, user_id=click.user_id)

    @bolt.action(HELP_OPEN)
    async def on_help_open(ack: AsyncAck, body: dict[str, Any], action: dict[str, Any]) -> None:
        await ack()
        click = _click(body, action)
        async with session_scope(context.sessions) as session:
            nudge = await _clicked_nudge(session, click, context)
        if nudge is None:
            context.delivery.wake()
            return
        await open_dialog(
            context,
            trigger_id=str(body["trigger_id"]),
            dialog=help_dialog(nudge, opened_by=click.user_id),
            workspace_id=click.workspace_id,
            channel_id=click.channel_id,
            user_id=click.user_id,
            thread_ts=click.thread_ts,
        )

    @bolt.view(HELP_SUBMIT)
    async def on_help_submit(ack: AsyncAck, body: dict[str, Any], view: dict[str, Any]) -> None:
        values = dialog_values(view.get("state") or {})
        errors = help_errors(values)
        if errors:
            await ack(response_action="errors", errors=errors)
            return
        workspace_id, user_id = team_of(body), str(body["user"]["id"])
        origin = read_origin(view.get("private_metadata"), user_id=user_id)
        if origin is None or origin.subject_id is None:
            logger.warning(
                "refused a help form that %s did not open here", user_id, extra={"workspace": workspace_id}
            )
            # The form is still open, so the note goes there rather than into the channel.
            await ack(response_action="errors", errors={"text": NOT_YOUR_FORM})
            return
        async with session_scope(context.sessions) as session:
            nudge = await nudge_in_channel(
                session, workspace_id=workspace_id, channel_id=origin.channel_id, nudge_id=origin.subject_id
            )
            if nudge is None:
                logger.warning(
                    "refused help for nudge %s: it is not in the channel the form was opened from",
                    origin.subject_id,
                    extra={"workspace": workspace_id, "channel": origin.channel_id},
                )
                await ack(response_action="errors", errors={"text": NOT_HERE})
                return
            await record_help(
                session,
                nudge=nudge,
                user_id=user_id,
                kind=str(values["kind"]),
                category=str(values["category"]),
                text=str(values["text"]),
                now=context.clock(),
            )
        # Acknowledged once recorded: a failure to record reaches Bolt's error handler and Slack keeps the form open.
        await ack()
        context.delivery.wake()
        refresh_home(context, workspace_id=workspace_id, user_id=user_id)
